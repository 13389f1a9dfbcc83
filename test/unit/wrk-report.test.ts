import { parseWrk } from '../../bench/wrk';

// wrk 4.1's `--latency` report, as the scale bench reads it (figures of a run on this machine).
const REPORT = `Running 15s test @ http://127.0.0.1:3000/api/logs?limit=20
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    26.81ms   20.11ms 213.48ms   83.21%
    Req/Sec   600.35     80.12   780.00     71.00%
  Latency Distribution
     50%  920.00us
     75%   30.00ms
     90%   45.00ms
     99%    1.25s
  17960 requests in 15.02s, 40.17MB read
  Socket errors: connect 0, read 1, write 0, timeout 2
  Non-2xx or 3xx responses: 12
Requests/sec:   1195.89
Transfer/sec:      2.67MB
`;

describe('parseWrk', () => {
  it('reads the rate, the percentiles in any unit and every kind of failure', () => {
    expect(parseWrk(REPORT)).toEqual({
      req_per_s: 1196,
      p50_ms: 0.9,
      p99_ms: 1250,
      failed_requests: 15,
    });
  });

  it('counts no failure when wrk reports none', () => {
    const clean = REPORT.replace(/^\s*(Socket errors|Non-2xx).*\n/gm, '');
    expect(parseWrk(clean).failed_requests).toBe(0);
  });

  it('refuses a report without the latency distribution (run without --latency)', () => {
    expect(() => parseWrk(REPORT.replace(/^\s*\d+%.*\n/gm, ''))).toThrow(/no 50% latency/);
  });
});
