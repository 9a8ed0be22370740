// yaml_subset.mjs — reads the plain YAML of the deploy files (block
// mappings and sequences; plain, quoted and [flow, list] scalars;
// comments) into objects, so the tests can check them without a YAML
// package. Anything else (anchors, multi-line scalars, flow mappings)
// throws, so a file that outgrows the subset fails loudly.

function stripComment(line) {
  let quote = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = null;
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === '#' && (i === 0 || line[i - 1] === ' ')) {
      return line.slice(0, i);
    }
  }
  return line;
}

// Splits "a, 'b', \"c\"" on the commas outside quotes.
function splitFlow(body) {
  const items = [];
  let quote = null;
  let start = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (quote) {
      if (c === quote) quote = null;
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === ',') {
      items.push(body.slice(start, i));
      start = i + 1;
    }
  }
  items.push(body.slice(start));
  return items.map((s) => s.trim()).filter((s) => s !== '');
}

function scalar(text) {
  if (text.startsWith('"')) return JSON.parse(text);
  if (text.startsWith("'")) return text.slice(1, -1).replace(/''/g, "'");
  if (text.startsWith('[')) {
    if (!text.endsWith(']')) throw new Error(`unclosed list: ${text}`);
    return splitFlow(text.slice(1, -1)).map(scalar);
  }
  if (/^[&*!|>{]/.test(text)) throw new Error(`unsupported YAML: ${text}`);
  return text;
}

// "key: value" or "key:" → {key, rest}; null when the line is no pair.
function splitKey(text) {
  const m = /^([^'"\s][^:]*?):(?:\s+(.*))?$/.exec(text);
  return m ? { key: m[1], rest: m[2] ?? '' } : null;
}

export function parseYaml(text) {
  const lines = [];
  for (const raw of text.split('\n')) {
    const line = stripComment(raw).trimEnd();
    if (line.trim() !== '') {
      lines.push({ indent: line.search(/\S/), text: line.trim() });
    }
  }
  let i = 0;
  const isItem = (l) => l.text === '-' || l.text.startsWith('- ');

  function block(indent) {
    return isItem(lines[i]) ? seq(indent) : map(indent);
  }

  function map(indent) {
    const out = {};
    while (i < lines.length && lines[i].indent === indent &&
      !isItem(lines[i])) {
      const pair = splitKey(lines[i].text);
      if (!pair) throw new Error(`not a key: ${lines[i].text}`);
      i++;
      const next = lines[i];
      if (pair.rest !== '') {
        out[pair.key] = scalar(pair.rest);
      } else if (next && (next.indent > indent ||
        (next.indent === indent && isItem(next)))) {
        out[pair.key] = block(next.indent);
      } else {
        out[pair.key] = null;
      }
    }
    return out;
  }

  function seq(indent) {
    const out = [];
    while (i < lines.length && lines[i].indent === indent &&
      isItem(lines[i])) {
      const item = lines[i].text.slice(1).trim();
      if (splitKey(item)) {
        // "- key: v": a mapping whose keys sit two columns further in.
        lines[i] = { indent: indent + 2, text: item };
        out.push(map(indent + 2));
      } else {
        out.push(scalar(item));
        i++;
      }
    }
    return out;
  }

  const doc = lines.length ? block(lines[0].indent) : null;
  if (i !== lines.length) {
    throw new Error(`cannot read line: ${lines[i].text}`);
  }
  return doc;
}
