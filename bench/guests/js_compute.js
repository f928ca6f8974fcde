// The CPU-bound work of bench/run.sh's section 7, run the same way by the http-js template's
// handler under Kiln and by Node.js: JSON round trips of small objects, then an integer
// loop. Returns a checksum (so that nothing is optimised away) and the time it took.
export function compute(n) {
  const t0 = Date.now();
  let acc = 0;
  for (let i = 0; i < n; i++) {
    const s = JSON.stringify({ id: i, name: 'item' + i, tags: ['a', 'b', i % 7], v: i * 0.5 });
    acc = (acc + JSON.parse(s).v + s.length) % 1000003;
  }
  let x = 0;
  for (let i = 0; i < n * 20; i++) x = (x + ((i * i) % 7919)) % 1000003;
  return { checksum: (acc + x) % 1000003, ms: Date.now() - t0 };
}
