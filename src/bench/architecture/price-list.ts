/**
 * Public list prices (US East, N. Virginia, on demand, no free tier, no savings plan) that
 * the architecture benchmark prices its measured counts with. Each carries where it was read
 * and when: the pages were read through the project's search tool (stored copies of public
 * pages) on 2026-11-30; a page without its own date says so.
 */
export interface Price {
  readonly value: number;
  readonly unit: string;
  readonly source: string;
  readonly read: string;
}

const READ = "2026-11-30 (stored copy; page undated)";

export const PRICES = {
  stepFunctionsStandardPerTransition: {
    value: 0.025 / 1000,
    unit: "USD per state transition ($0.025 per 1,000)",
    source: "https://aws.amazon.com/step-functions/pricing/",
    read: READ,
  },
  stepFunctionsExpressPerRequest: {
    value: 1.0 / 1_000_000,
    unit: "USD per execution ($1.00 per million)",
    source:
      "https://aws.amazon.com/blogs/compute/building-cost-effective-aws-step-functions-workflows/ (and https://www.wring.co/blog/aws-step-functions-pricing-guide, 2026-03-14)",
    read: READ,
  },
  stepFunctionsExpressPerGbSecond: {
    value: 0.00001667,
    unit: "USD per GB-second of execution, billed in 64 MB and 100 ms steps",
    source:
      "https://www.wring.co/blog/aws-step-functions-pricing-guide (2026-03-14); billing steps: https://aws.amazon.com/step-functions/pricing/",
    read: "2026-11-30",
  },
  lambdaPerRequest: {
    value: 0.2 / 1_000_000,
    unit: "USD per invocation ($0.20 per million, x86 and Arm)",
    source: "https://cloudchipr.com/blog/aws-lambda-pricing (2024 guide; us-east-1)",
    read: READ,
  },
  lambdaX86PerGbSecond: {
    value: 0.0000166667,
    unit: "USD per GB-second, x86 (first 6 billion GB-s a month)",
    source: "https://cloudchipr.com/blog/aws-lambda-pricing",
    read: READ,
  },
  lambdaArmPerGbSecond: {
    value: 0.0000133334,
    unit: "USD per GB-second, Arm (first 7.5 billion GB-s a month)",
    source: "https://cloudchipr.com/blog/aws-lambda-pricing",
    read: READ,
  },
  s3PutListPerRequest: {
    value: 0.005 / 1000,
    unit: "USD per PUT, COPY, POST or LIST ($0.005 per 1,000), S3 Standard",
    source: "https://c3x.dev/blog/s3-request-fees-explained",
    read: READ,
  },
  s3GetPerRequest: {
    value: 0.0004 / 1000,
    unit: "USD per GET, HEAD or SELECT ($0.0004 per 1,000), S3 Standard",
    source: "https://c3x.dev/blog/s3-request-fees-explained",
    read: READ,
  },
  ec2InstancePerHour: {
    value: 0.0816,
    unit: "USD per hour, m7g.large Linux on demand (2 vCPU, 8 GiB)",
    source:
      "https://www.factualminds.com/blog/amazon-ec2-on-demand-pricing-instance-families-2026/ (2026-06-17)",
    read: "2026-11-30",
  },
} as const satisfies Record<string, Price>;

/** The instance behind ec2InstancePerHour. */
export const INSTANCE = { name: "m7g.large", vcpus: 2, memoryGiB: 8 } as const;

/** Lambda gives a function one vCPU's worth of CPU at 1,769 MB, in proportion below and above. */
export const LAMBDA_MB_PER_VCPU = 1769;
export const LAMBDA_VCPU_SOURCE = "https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html";
/** The smallest memory a function can have. */
export const LAMBDA_MIN_MB = 128;
/** Express executions are billed in memory steps of this size (the minimum). */
export const EXPRESS_MEMORY_MB = 64;
