// stub-embed.mjs — the stub upstream's embedding function, shared with the
// tests so they can check the vectors that came back through tollgate.

// A deterministic unit vector for a text: same text, same vector.
export function embedText(text, dims) {
  const v = new Array(dims);
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619) >>> 0;
  let norm = 0;
  for (let i = 0; i < dims; i++) {
    h = Math.imul(h ^ (h >>> 15), 2246822519) >>> 0;
    v[i] = (h / 4294967296) * 2 - 1;
    norm += v[i] * v[i];
  }
  norm = Math.sqrt(norm) || 1;
  return v.map((x) => Math.fround(x / norm));
}
