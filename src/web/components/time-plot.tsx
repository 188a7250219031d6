/**
 * A time series plot (uPlot on a canvas) of rows `{t, key: value}`, with constant reference
 * lines (a target, a limit). The canvas is hidden from screen readers; the figure's caption
 * and the latest values below it say the same in text.
 */
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import type { HistoryPoint } from "../api/wire-types.js";

export interface PlotSeries {
  readonly key: string;
  readonly label: string;
  readonly color: string;
  readonly dash?: number[];
}

export interface PlotLine {
  readonly label: string;
  readonly value: number;
  readonly color: string;
  /** Default: the plot's unit. */
  readonly unit?: string;
}

export interface TimePlotProps {
  readonly id: string;
  readonly title: string;
  readonly unit: string;
  readonly data: readonly HistoryPoint[];
  readonly series: readonly PlotSeries[];
  readonly lines?: readonly PlotLine[];
  readonly range?: readonly [number, number];
  readonly height?: number;
}

function columns(props: TimePlotProps): uPlot.AlignedData {
  const t = props.data.map((p) => p.t / 1000);
  const cols: (number | null)[][] = props.series.map((s) =>
    props.data.map((p) => {
      const v = p[s.key];
      return typeof v === "number" && Number.isFinite(v) ? v : null;
    }),
  );
  for (const l of props.lines ?? []) cols.push(t.map(() => l.value));
  return [t, ...cols] as uPlot.AlignedData;
}

export function TimePlot(props: TimePlotProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const height = props.height ?? 180;

  useEffect(() => {
    const el = box.current;
    if (!el) return undefined;
    const axis = { stroke: "#c8ccd2", grid: { stroke: "#2c3138" }, ticks: { stroke: "#2c3138" } };
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height,
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      scales: {
        x: { time: true },
        y: props.range ? { range: [props.range[0], props.range[1]] } : {},
      },
      axes: [axis, { ...axis, label: props.unit, size: 50 }],
      series: [
        { label: "time" },
        ...props.series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: 1.5,
          ...(s.dash ? { dash: s.dash } : {}),
        })),
        ...(props.lines ?? []).map((l) => ({
          label: l.label,
          stroke: l.color,
          width: 1,
          dash: [6, 4],
          points: { show: false },
        })),
      ],
    };
    const p = new uPlot(opts, columns(props), el);
    plot.current = p;
    const ro = new ResizeObserver(() => p.setSize({ width: Math.max(200, el.clientWidth), height }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      p.destroy();
      plot.current = null;
    };
    // The plot is made once per series layout; data changes go through setData below.
  }, [props.series.length, (props.lines ?? []).length]);

  useEffect(() => {
    plot.current?.setData(columns(props));
  }, [props.data, props.lines]);

  const last = props.data[props.data.length - 1];
  const points = props.data.filter((p) => props.series.some((s) => typeof p[s.key] === "number")).length;
  const latest = props.series
    .map((s) => {
      const v = last?.[s.key];
      return `${s.label} ${typeof v === "number" ? v.toFixed(1) : "—"}`;
    })
    .join(", ");
  return (
    <figure class="plot" data-plot={props.id} data-points={points}>
      <figcaption>
        {props.title}
        {props.lines?.length
          ? ` (${props.lines.map((l) => `${l.label} ${l.value} ${l.unit ?? props.unit}`).join(", ")})`
          : ""}
      </figcaption>
      <div ref={box} class="plot-canvas" aria-hidden="true" />
      <p class="plot-latest">
        {points === 0 ? "No data yet." : `Latest (${props.unit}): ${latest}. ${points} points.`}
      </p>
    </figure>
  );
}
