/**
 * The MQTT topic scheme of LineSight: `linesight/{line}/{source}/{kind}` where source is a station
 * or a machine. Inputs: `image`, `sensors`, `truth` (QA/ground-truth labels). Outputs: `result`,
 * `decision`, and `linesight/{line}/alerts`.
 */

export const TOPIC_ROOT = 'linesight';

export const INPUT_KINDS = ['image', 'sensors', 'truth'] as const;
export type InputKind = (typeof INPUT_KINDS)[number];

/** The subscriptions the line runtime makes. */
export const INPUT_SUBSCRIPTIONS: readonly string[] = INPUT_KINDS.map((k) => `${TOPIC_ROOT}/+/+/${k}`);

export interface ParsedTopic {
  readonly line: string;
  readonly source: string;
  readonly kind: string;
}

/** Split an input topic; undefined when it does not follow the scheme. */
export function parseTopic(topic: string): ParsedTopic | undefined {
  const parts = topic.split('/');
  if (parts.length !== 4 || parts[0] !== TOPIC_ROOT) return undefined;
  const [, line, source, kind] = parts as [string, string, string, string];
  if (!line || !source || !kind) return undefined;
  return { line, source, kind };
}

/** `linesight/{line}/{source}/{kind}` */
export function topicFor(line: string, source: string, kind: 'image' | 'sensors' | 'truth' | 'result' | 'decision'): string {
  return `${TOPIC_ROOT}/${line}/${source}/${kind}`;
}

/** `linesight/{line}/alerts` */
export function alertsTopic(line: string): string {
  return `${TOPIC_ROOT}/${line}/alerts`;
}
