// autocannon ships no types; this declares only the parts bench/load.ts uses.
declare module 'autocannon' {
  interface Options {
    url: string
    connections?: number
    /** Seconds. */
    duration?: number
    renderProgressBar?: boolean
    renderResultsTable?: boolean
  }
  interface Histogram {
    average: number
    p50: number
    p99: number
    total: number
  }
  interface Result {
    /** Seconds. */
    duration: number
    errors: number
    timeouts: number
    non2xx: number
    /** Milliseconds. */
    latency: Histogram
    /** `total` is the number of completed requests. */
    requests: Histogram
  }
  interface Instance extends PromiseLike<Result> {
    stop(): void
  }
  function autocannon(opts: Options): Instance
  export default autocannon
}
