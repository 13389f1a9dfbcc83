import { peakRssMiB } from './proc';

/**
 * What a process's resident memory is made of at its peak, from its own /metrics (prom-client's
 * default metrics, read from V8 and Node) sampled every second through the run: the main
 * isolate's heap spaces (committed, and how much of that holds objects, live or garbage not yet
 * collected), the memory outside the heap that JavaScript objects hold (`external`: Buffers), and
 * the rest of RSS, which V8's heap figures do not cover (the Node and V8 binaries, ICU, stacks,
 * malloc'd native memory; in the worker also its workflow thread's isolate and the Temporal core
 * written in Rust).
 */
export interface MemoryBreakdown {
  /** The peak as the kernel counts it (VmHWM); the sample below is the one nearest to it. */
  peak_rss_mib: number;
  sampled_rss_mib: number;
  heap_committed_mib: Record<string, number>;
  heap_used_mib: Record<string, number>;
  external_mib: number;
  outside_heap_mib: number;
}

interface Sample {
  rss: number;
  committed: Record<string, number>;
  used: Record<string, number>;
  external: number;
}

const MIB = 1024 * 1024;

function parse(text: string): Sample | null {
  const sample: Sample = { rss: NaN, committed: {}, used: {}, external: 0 };
  for (const line of text.split('\n')) {
    const space = /^nodejs_heap_space_size_(total|used)_bytes\{space="(\w+)"\} (\S+)/.exec(line);
    if (space) {
      const bucket = space[1] === 'total' ? sample.committed : sample.used;
      bucket[space[2]!] = Number(space[3]);
      continue;
    }
    const value = /^(process_resident_memory_bytes|nodejs_external_memory_bytes) (\S+)/.exec(line);
    if (value?.[1] === 'process_resident_memory_bytes') sample.rss = Number(value[2]);
    else if (value) sample.external = Number(value[2]);
  }
  return Number.isFinite(sample.rss) ? sample : null;
}

/** Samples `metricsUrl` every `intervalMs` until `stop`, which answers the breakdown at the peak. */
export function sampleMemory(
  pid: number,
  metricsUrl: string,
  intervalMs = 1_000,
): { stop(): MemoryBreakdown | null } {
  let top: Sample | null = null;
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    fetch(metricsUrl)
      .then((res) => res.text())
      .then((text) => {
        const sample = parse(text);
        if (sample && (!top || sample.rss > top.rss)) top = sample;
      })
      .catch(() => undefined)
      .finally(() => {
        busy = false;
      });
  }, intervalMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      const peak: Sample | null = top;
      if (!peak) return null;
      const mib = (bytes: number) => Math.round(bytes / MIB);
      const heapCommitted = Object.values(peak.committed).reduce((sum, v) => sum + v, 0);
      const spaces = (values: Record<string, number>) =>
        Object.fromEntries(
          Object.entries(values)
            .filter(([, bytes]) => bytes >= MIB / 2)
            .map(([space, bytes]) => [space.replace(/_space$/, ''), mib(bytes)]),
        );
      return {
        peak_rss_mib: Math.round(peakRssMiB(pid)),
        sampled_rss_mib: mib(peak.rss),
        heap_committed_mib: spaces(peak.committed),
        heap_used_mib: spaces(peak.used),
        external_mib: mib(peak.external),
        outside_heap_mib: mib(peak.rss - heapCommitted - peak.external),
      };
    },
  };
}
