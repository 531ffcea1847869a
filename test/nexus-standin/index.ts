/**
 * A Nexus Repository 3 stand-in for Ferry's integration tests and demo: a real HTTP server
 * on 127.0.0.1 that behaves as /work/shared/NEXUS.md describes, and no friendlier.
 */
export { startNexusStandin } from './server.ts';
export { signWebhookBody } from './webhooks.ts';
export { scrambleId, unscrambleId, restId, nexusDate } from './format.ts';
export type {
  NexusStandin,
  RequestLogEntry,
  StandinFault,
  StandinOptions,
  StandinRepository,
  StandinWebhook,
} from './types.ts';
