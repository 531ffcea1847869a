/** The formats the stand-in knows. Adding one is a StandinFormat (types.ts) and its line here. */
import { dockerStandin } from './docker.ts';
import { helmStandin } from './helm.ts';
import { maven2Standin } from './maven2.ts';
import { npmStandin } from './npm.ts';
import { nugetStandin } from './nuget.ts';
import { pypiStandin } from './pypi.ts';
import { rawStandin } from './raw.ts';
import type { StandinFormat } from './types.ts';

export const STANDIN_FORMATS: ReadonlyMap<string, StandinFormat> = new Map(
  [rawStandin, dockerStandin, helmStandin, maven2Standin, npmStandin, nugetStandin, pypiStandin].map((format) => [format.format, format]),
);

export type { FormatContext, FormatResult, Generated, ParsedForm, StandinFormat } from './types.ts';
