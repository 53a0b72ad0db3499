/**
 * Weighted alias routing (RoutingConfig.AdditionalVersionWeights): each invocation through an alias runs an additional
 * version with its weight's probability, else the alias's primary version. The random source is injected so a seeded
 * one gives exact, repeatable picks in tests.
 */
import type { Alias } from '../model/function.js';

/** A number in [0, 1), like Math.random. */
export type RandomSource = () => number;

/**
 * The version one invocation through `alias` runs. Additional versions own consecutive slices of [0, 1) in the order
 * of their weights' keys (sorted, so the same draw always picks the same version); the primary gets the rest.
 */
export function pickAliasVersion(alias: Pick<Alias, 'functionVersion' | 'additionalVersionWeights'>, random: RandomSource): string {
  const weights = alias.additionalVersionWeights;
  if (weights === undefined) return alias.functionVersion;
  const draw = random();
  let upper = 0;
  for (const version of Object.keys(weights).sort()) {
    upper += weights[version] ?? 0;
    if (draw < upper) return version;
  }
  return alias.functionVersion;
}
