/** The formats the stand-in knows. Adding one is a StandinFormat (types.ts) and its line here. */
import { dockerStandin } from './docker.ts';
import { rawStandin } from './raw.ts';
import type { StandinFormat } from './types.ts';

export const STANDIN_FORMATS: ReadonlyMap<string, StandinFormat> = new Map(
  [rawStandin, dockerStandin].map((format) => [format.format, format]),
);

export type { FormatContext, FormatResult, Generated, ParsedForm, StandinFormat } from './types.ts';
