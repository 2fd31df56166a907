/** The live dashboard (issue 6): what the rest of Fulcrum may use. */
export { dashboardAccess } from './access.ts'
export { setSeriesSource, samplingHubs } from './hub.ts'
export { inFlightSource, promHistogramSource, UPSTREAM_HISTOGRAM } from './prom-source.ts'
export type { Bucket, TargetSample, TargetSeriesSource } from './series.ts'
