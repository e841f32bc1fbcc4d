import { parsePrometheusText } from '../../src/console/samples.js';

/** A metric's values summed over the series whose labels pass `where`, from the text of a `/metrics` answer. */
export function sumOf(
  metrics: string,
  name: string,
  where: (labels: Record<string, string>) => boolean = () => true,
): number {
  return parsePrometheusText(metrics)
    .filter((s) => s.name === name && where(s.labels))
    .reduce((sum, s) => sum + s.value, 0);
}
