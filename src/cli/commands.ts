/**
 * Every command of the command line, as commander definitions: arguments, options with their
 * defaults and what they do. `streamqc CMD --help` prints them; a mistyped command or option
 * gets a suggestion. The definitions are cheap; each command's code is imported only when it
 * runs (the bundle keeps each command in a chunk of its own, so `analyze` starts fast).
 *
 * Values reach the commands as commander gives them (camelCase keys, strings for numbers):
 * each command validates its own values and says exactly what is wrong.
 */
import { Command, Option } from "commander";
import { DEFECT_KINDS } from "../gen/defect-spec.js";
import { DECODE_CHOICES, DEFAULT_DECODE_CHOICE } from "../ingest/decode-policy.js";
import type {
  AnalyzeOptions,
  BenchOptions,
  EvalOptions,
  GenOptions,
  Io,
  ServeOptions,
  WatchOptions,
  WorkerCliOptions,
} from "./command-options.js";
import { FORMATS } from "./output.js";

/** What a command's action resolves to: its exit status. */
export type ExitCode = number;

/**
 * Builds the program. `setExit` receives each command's exit status (commander's actions
 * return nothing of their own).
 */
export function buildProgram(io: Io, setExit: (code: ExitCode) => void): Command {
  const program = new Command("streamqc")
    .description("live audio/video stream quality monitor: decode once, detect defects, record incidents")
    .showSuggestionAfterError(true)
    .showHelpAfterError("(add --help for usage)")
    .configureOutput({
      writeOut: (s) => io.out.write(s),
      writeErr: (s) => io.err.write(s),
    })
    .exitOverride()
    .addHelpText("after", "\nEvery error is one line with a code documented in docs/errors.md.");

  const command = (name: string): Command =>
    program
      .command(name)
      .showSuggestionAfterError(true)
      .configureOutput({ writeOut: (s) => io.out.write(s), writeErr: (s) => io.err.write(s) })
      .exitOverride();

  command("analyze")
    .description("read a file to its end (or a live input for --duration seconds) and print its incidents")
    .argument("<input>", "a file, http(s)://…m3u8, udp://, srt:// or rtmp:// URL")
    .option("--duration <seconds>", "stop after this many seconds of media (required for live inputs to end)")
    .addOption(new Option("--format <format>", "how incidents are printed").choices(FORMATS).default("text"))
    .option("--config <file>", "a configuration file (JSON) with the profile and ffmpeg path")
    .option("--threads <n>", "decoder threads (0: ffmpeg decides)", "0")
    .option("--stream <name>", "the stream name printed in each incident")
    .addOption(
      new Option(
        "--mode <mode>",
        "full: decode every frame; light: keyframes only, promoted to full decoding on trouble (default: the profile's mode, else full)",
      ).choices(["full", "light"]),
    )
    .addOption(
      new Option(
        "--decode <policy>",
        "full decoding: refs decodes only the frames others are predicted from (timing to a reference frame, at most a few frame intervals); fast decodes every frame, deblocking skipped on frames nothing references; exact decodes every frame as encoded; auto is refs unless a detector needs every frame (av.sync), then fast",
      )
        .choices(DECODE_CHOICES)
        .default(DEFAULT_DECODE_CHOICE),
    )
    .addOption(new Option("--cpu-report", "Node's CPU time as JSON on stderr (for the benchmark)").hideHelp())
    .action(async (input: string, opts: AnalyzeOptions) => {
      const { runAnalyze } = await import("./analyze-command.js");
      setExit(await runAnalyze(input, opts, io));
    });

  command("watch")
    .description("show one live stream in the terminal: state, levels, measurements, incidents")
    .argument("<url>", "the input (a file plays at its own rate)")
    .option("--config <file>", "a configuration file (JSON)")
    .option("--duration <seconds>", "stop after this many seconds")
    .action(async (url: string, opts: WatchOptions) => {
      const { runWatch } = await import("./watch-command.js");
      setExit(await runWatch(url, opts, io));
    });

  command("gen")
    .description(
      "write H.264 + AAC MPEG-TS test media with defects at known times, and OUT.truth.json beside it",
    )
    .argument("<out>", "the clip to write (.ts)")
    .option(
      "--defects <list>",
      `type@start:duration,… in seconds, e.g. freeze@10:4,black@20:3; types: ${Object.keys(DEFECT_KINDS).join(", ")} ('' for a clean clip)`,
    )
    .option("--duration <seconds>", "clip length (default: the last defect's end + 5 s, at least 10 s)")
    .option("--size <WxH>", "picture size (default 640x360)")
    .option("--fps <n>", "frame rate (default 25)")
    .option("--seed <n>", "noise seed (default 1)")
    .option("--base <file>", "inject into this recording (looped if short) instead of synthetic content")
    .action(async (out: string, opts: GenOptions) => {
      const { runGen } = await import("./gen-command.js");
      setExit(await runGen(out, opts, io));
    });

  command("serve")
    .description("run the monitoring service: API, live events, metrics and dashboard, on SQLite in --data")
    .option("--config <file>", "the service configuration file (JSON)")
    .option("--data <dir>", "where SQLite and evidence live (default ./data)")
    .option("--host <host>", "address to listen on (default 127.0.0.1; beyond localhost a token is required)")
    .option("--port <port>", "port to listen on (default 8080; 0 picks a free one)")
    .option("--demo", "also start two live demo channels on loopback (UDP and HLS)", false)
    .option(
      "--db <url>",
      "a fleet's PostgreSQL database (default $STREAMQC_DATABASE_URL; none: SQLite in --data)",
    )
    .option("--no-monitor", "with --db: run no streams here, only the API, live events and alert dispatch")
    .addOption(
      new Option("--allow-simulated", "accept sim: streams (tests and benchmarks)").default(false).hideHelp(),
    )
    .action(async (opts: ServeOptions) => {
      const { runServe } = await import("./serve-command.js");
      setExit(await runServe(opts, io));
    });

  command("worker")
    .description(
      "run as a fleet worker: claim streams of a pool from PostgreSQL under leases and monitor them",
    )
    .option("--db <url>", "the fleet's PostgreSQL database (default $STREAMQC_DATABASE_URL)")
    .option("--name <name>", "unique worker name (default <host>-<pid>)")
    .option("--pool <pool>", "run only streams whose profile names this pool", "default")
    .option("--capacity <n>", "most streams at once", "50")
    .option("--config <file>", "the service configuration (profiles, alerts, evidence, ffmpeg)")
    .option("--lease-ms <ms>", "lease length, judged by the database's clock", "10000")
    .option("--renew-ms <ms>", "renewal period", "3000")
    .option("--claim-ms <ms>", "poll for free streams", "1000")
    .option("--safety-ms <ms>", "stop a stream this long before its lease could expire", "2000")
    .option("--rebalance-ms <ms>", "give at most one stream back per period to balance load", "5000")
    .option("--claim-batch <n>", "most streams claimed per poll", "25")
    .option(
      "--adopt-grace-ms <ms>",
      "how long an incident left open by a dead owner waits to be seen again",
      "30000",
    )
    .option("--metrics-port <port>", "serve Prometheus metrics on 127.0.0.1:PORT")
    .option(
      "--live-host <host>",
      "listen here for the API's requests of thumbnails and history (beyond localhost needs $STREAMQC_FLEET_TOKEN)",
      "127.0.0.1",
    )
    .option("--live-port <port>", "the live endpoint's port (0: any free port)", "0")
    .option("--live-url <url>", "the URL the API should use for the live endpoint (default http://HOST:PORT)")
    .addOption(
      new Option("--allow-simulated", "run sim: streams (tests and benchmarks)").default(false).hideHelp(),
    )
    .addHelpText(
      "after",
      "\nSIGTERM drains: streams are released and claimed by other workers within about 2 s (docs/fleet.md).",
    )
    .action(async (opts: WorkerCliOptions) => {
      const { runWorker } = await import("./worker-command.js");
      setExit(await runWorker(opts, io));
    });

  command("eval")
    .description(
      "generate the evaluation suite, run it through streamqc and an FFmpeg-only baseline, print the scores",
    )
    .option("--suite <dir>", "where clips and truths are generated and cached (default .streamqc-eval)")
    .option("--jobs <n>", "clips worked on at once (default 2)")
    .addOption(
      new Option("--mode <mode>", "analyze the suite in full or light mode (promotion on)")
        .choices(["full", "light"])
        .default("full"),
    )
    .option(
      "--real <file>",
      "the real recording used as a clean clip, a base for defects and the real-content lossy part",
    )
    .option(
      "--part <part>",
      "all, synthetic (the generated suite) or real-lossy (real content re-encoded as broadcast, scored per half: held-out, then tune)",
      "all",
    )
    .option("--false-alarms", "loop clean real content through analyze; report incidents per hour by type")
    .option(
      "--music",
      "long programmes: a music channel of real pieces (scripts/real-media.sh), per half; incidents per hour and how soon gain errors are reported",
    )
    .addOption(
      new Option("--decode <policy>", "full decoding policy for every clip, as analyze --decode")
        .choices(DECODE_CHOICES)
        .default(DEFAULT_DECODE_CHOICE),
    )
    .option("--minutes <m>", "minutes of clean content for --false-alarms, over 5 encodes (default 10)")
    .option(
      "--av-sync-natural",
      "turn on av.sync's natural-content correlation (opt-in in the default profile) for every clip",
    )
    .action(async (opts: EvalOptions) => {
      const { runEval } = await import("./eval-command.js");
      setExit(await runEval(opts, io));
    });

  command("bench")
    .description(
      "measure analysis against ffmpeg decoding alone, light mode, the service's overhead per stream and the cost per channel as channels grow",
    )
    .option("--duration <seconds>", "length of the benchmark clip", "60")
    .option("--size <WxH>", "picture size of the benchmark clip", "1920x1080")
    .option("--service", "run only the service benchmark", false)
    .option("--streams <n>", "concurrent streams (default 16; with --architecture 2)")
    .option("--service-seconds <s>", "how long the service benchmark runs", "60")
    .option("--baseline-seconds <s>", "how long the idle baseline is measured", "20")
    .option("--rounds <n>", "interleaved rounds; each figure is the median", "3")
    .option("--skip-service", "skip the service benchmark", false)
    .option("--light", "run only the light-mode benchmark (CPU per minute of 1080p media)", false)
    .option("--skip-light", "skip the light-mode benchmark", false)
    .option(
      "--curve",
      "run only the cost curve (CPU and memory per channel at several channel counts)",
      false,
    )
    .option("--skip-curve", "skip the cost curve", false)
    .option("--curve-light <list>", "channel counts of the cost curve in light mode", "1,4,16,64")
    .option("--curve-full <list>", "channel counts of the cost curve in full mode ('' for none)", "1,4")
    .option("--curve-seconds <s>", "seconds measured per point of the cost curve", "30")
    .addOption(new Option("--service-child <spec>").hideHelp())
    .addOption(new Option("--service-log <file>").hideHelp())
    .option(
      "--architecture",
      "the in-process design against a staged (workflow + functions + object store) reproduction, priced per stream-hour",
      false,
    )
    .option("--seconds <s>", "with --architecture: seconds of live media per stream (at least 10)", "20")
    .option("--chunk <s>", "with --architecture: the staged design's chunk length in seconds", "1")
    .addOption(
      new Option(
        "--invoke <mode>",
        "with --architecture: warm (pooled) or cold (a process per invocation) functions",
      )
        .choices(["warm", "cold"])
        .default("warm"),
    )
    .addOption(
      new Option("--format <format>", "with --architecture: a table or JSON")
        .choices(["text", "json"])
        .default("text"),
    )
    .option("--keep", "with --architecture: keep the working directory (clips, objects, databases)", false)
    .addOption(new Option("--architecture-child <role>").hideHelp())
    .option(
      "--fleet",
      "the fleet on a throwaway PostgreSQL: claim time, failover after SIGKILL, database load, memory per worker",
      false,
    )
    .option(
      "--fleet-streams <n>",
      "with --fleet: SIMULATED streams (sim:, no media) for the scale run",
      "1000",
    )
    .option("--fleet-workers <n>", "with --fleet: worker processes for the scale run", "10")
    .option("--fleet-real-streams <n>", "with --fleet: real ffmpeg streams (a looped clip)", "24")
    .option("--fleet-real-workers <n>", "with --fleet: worker processes for the ffmpeg run", "3")
    .option("--fleet-seconds <s>", "with --fleet: steady-state seconds measured before the SIGKILL", "30")
    .action(async (opts: BenchOptions) => {
      const { runBench } = await import("./bench-command.js");
      setExit(await runBench(opts, io));
    });

  return program;
}
