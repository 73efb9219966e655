// The reference JSONata (npm `jsonata`, pinned in package.json) on the same expressions and
// data as crates/asl/benches/jsonata.rs, for a side-by-side ops/s comparison.
//
// Run by hand on the machine that runs the Rust bench:
//   cd crates/asl/benches/jsonata-reference && npm install && node bench.js
// and compare with:
//   cargo bench -p asl --bench jsonata
//
// Each expression is compiled once (as Baton parses once per definition) and evaluated with
// `$states` bound, the way a JSONata state reads its input.
const jsonata = require('jsonata');
const { cases } = require('./cases.json');

function data() {
  const items = [];
  for (let i = 0; i < 1000; i++) {
    items.push({ id: `item-${i}`, name: `Item ${i}`, price: (i * 37) % 100 + 0.5, quantity: (i % 7) + 1, tags: ['a', 'b'] });
  }
  return {
    order: {
      id: 'o-123',
      status: 'OPEN',
      total: 1234.5,
      customer: { name: 'Ada Lovelace', email: 'ada@example.com' },
      lines: [1, 2, 3],
    },
    items,
  };
}

async function measure(expression, bindings) {
  // Warm up, then run for about two seconds.
  for (let i = 0; i < 200; i++) await expression.evaluate(undefined, bindings);
  let n = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0n;
  while (elapsed < 2_000_000_000n) {
    for (let i = 0; i < 50; i++) await expression.evaluate(undefined, bindings);
    n += 50;
    elapsed = process.hrtime.bigint() - start;
  }
  return n / (Number(elapsed) / 1e9);
}

(async () => {
  const input = data();
  const bindings = { states: { input } };
  console.log(`jsonata ${require('jsonata/package.json').version}, node ${process.version}`);
  for (const c of cases) {
    const expression = jsonata(c.expr);
    const opsPerSec = await measure(expression, bindings);
    console.log(`${c.name.padEnd(28)} ${Math.round(opsPerSec).toString().padStart(12)} ops/s`);
  }
})();
