// A strict little parser of the Prometheus text exposition format 0.0.4, for the tests: it
// throws on any line a Prometheus server would refuse (or that breaks the format's rules we
// rely on), and returns the metric families with their samples.

export interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

export interface Family {
  readonly name: string;
  help?: string;
  type?: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  readonly samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"\s*(,|$)/y;

function parseValue(text: string, line: string): number {
  if (/^[+]?inf$/i.test(text)) return Infinity;
  if (/^-inf$/i.test(text)) return -Infinity;
  if (/^nan$/i.test(text)) return Number.NaN;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) throw new Error(`bad sample value ${JSON.stringify(text)} in ${JSON.stringify(line)}`);
  return Number(text);
}

function unescape(value: string): string {
  return value.replace(/\\([\\"n])/g, (_m, ch: string) => (ch === 'n' ? '\n' : ch));
}

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  LABEL.lastIndex = 0;
  while (LABEL.lastIndex < text.length) {
    const at = LABEL.lastIndex;
    const m = LABEL.exec(text);
    if (!m || m.index !== at) throw new Error(`bad labels in ${JSON.stringify(line)}`);
    if (m[1] in labels) throw new Error(`label ${m[1]} twice in ${JSON.stringify(line)}`);
    labels[m[1]] = unescape(m[2]);
  }
  return labels;
}

/** The family a sample belongs to: its own name, or a histogram's _bucket/_sum/_count. */
function familyOf(families: Map<string, Family>, name: string): Family | undefined {
  const own = families.get(name);
  if (own) return own;
  const base = name.replace(/_(bucket|sum|count)$/, '');
  const family = families.get(base);
  return family && (family.type === 'histogram' || family.type === 'summary') ? family : undefined;
}

export function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  if (text !== '' && !text.endsWith('\n')) throw new Error('the exposition must end with a newline');
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!m) continue; // a comment
      const [, kind, name, rest] = m;
      if (!NAME.test(name)) throw new Error(`bad metric name in ${JSON.stringify(line)}`);
      let family = families.get(name);
      if (!family) families.set(name, (family = { name, samples: [] }));
      if (kind === 'HELP') {
        if (family.help !== undefined) throw new Error(`second HELP for ${name}`);
        family.help = rest.replace(/\\([\\n])/g, (_m, ch: string) => (ch === 'n' ? '\n' : ch));
      } else {
        if (family.type !== undefined) throw new Error(`second TYPE for ${name}`);
        if (family.samples.length > 0) throw new Error(`TYPE of ${name} after its samples`);
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest)) throw new Error(`bad type in ${JSON.stringify(line)}`);
        family.type = rest as Family['type'];
      }
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)( -?\d+)?$/.exec(line);
    if (!m) throw new Error(`bad sample line ${JSON.stringify(line)}`);
    const [, name, labelText, valueText] = m;
    const family = familyOf(families, name);
    if (!family) throw new Error(`sample ${name} before (or without) its TYPE`);
    family.samples.push({ name, labels: labelText ? parseLabels(labelText, line) : {}, value: parseValue(valueText, line) });
  }
  return families;
}

/** The value of the sample named `name` whose labels include `labels`; undefined when absent. */
export function sampleValue(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined {
  const family = familyOf(families, name);
  const wanted = Object.entries(labels);
  const sample = family?.samples.find((s) => s.name === name && Object.keys(s.labels).length === wanted.length && wanted.every(([k, v]) => s.labels[k] === v));
  return sample?.value;
}
