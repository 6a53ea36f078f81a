import { html } from 'htm/preact';
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { bytes } from '../../observability/status/units.js';

/** One point per poll: seconds since the epoch, bytes per second each way. */
export interface ThroughputPoint {
  t: number;
  toListener: number;
  toSender: number;
}

/** The relay's throughput over the last minutes (all hybrid connections), drawn with uPlot. */
export function ThroughputChart(props: { points: ThroughputPoint[] }) {
  const box = useRef<HTMLDivElement>(null);
  const chart = useRef<uPlot | null>(null);
  useEffect(() => {
    if (!box.current) return undefined;
    const width = Math.max(320, box.current.clientWidth);
    chart.current = new uPlot(
      {
        width,
        height: 220,
        scales: { x: { time: true } },
        axes: [{}, { values: (_u, ticks) => ticks.map((v) => `${bytes(v)}/s`), size: 80 }],
        series: [{}, { label: 'to listeners', stroke: '#2b6cb0', width: 2 }, { label: 'to senders', stroke: '#c05621', width: 2 }],
      },
      [[], [], []],
      box.current,
    );
    return () => chart.current?.destroy();
  }, []);
  useEffect(() => {
    chart.current?.setData([props.points.map((p) => p.t), props.points.map((p) => p.toListener), props.points.map((p) => p.toSender)]);
  }, [props.points]);
  return html`<section id="throughput"><h2>Throughput</h2><div class="chart" ref=${box}></div></section>`;
}
