// Calls every export of c-types.wasm once or more with fixed arguments through `jco transpile`
// output and prints one line per call, "CALL => RESULT" (results as JSON; bigints as "123n").
// These lines are the reference that Kiln's canonical ABI must reproduce.
// Usage: jco transpile c-types.wasm -o DIR --name types; echo '{"type":"module"}' >DIR/package.json
//        node reference.mjs DIR/types.js
import { pathToFileURL } from 'node:url';

const { api } = await import(pathToFileURL(process.argv[2]));
const show = (v) =>
  JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? `${x}n` : x instanceof Uint8Array ? [...x] : x));
const call = (label, f) => {
  let r;
  try {
    r = show(f());
  } catch (e) {
    r = `throws ${show(e.payload ?? e.message)}`;
  }
  console.log(`${label} => ${r}`);
};

call('add-u8(200, 100)', () => api.addU8(200, 100));
call('add-s16(-32768, -1)', () => api.addS16(-32768, -1));
call('add-u32(4294967295, 2)', () => api.addU32(4294967295, 2));
call('add-s64(9223372036854775807, 1)', () => api.addS64(9223372036854775807n, 1n));
call('mul-f32(1.5, 2.25)', () => api.mulF32(1.5, 2.25));
call('mul-f64(0.1, 3)', () => api.mulF64(0.1, 3));
call("next-char('a')", () => api.nextChar('a'));
call("next-char('\\u{d7ff}')", () => api.nextChar('\u{d7ff}'));
call('not(true)', () => api.not(true));
call("greet('wörld')", () => api.greet('wörld'));
call("reverse-string('añb😀c')", () => api.reverseString('añb😀c'));
call('sum-list([1, -2, 2147483647, 2147483647])', () => api.sumList([1, -2, 2147483647, 2147483647]));
call('reverse-bytes([1, 2, 3, 255])', () => api.reverseBytes(new Uint8Array([1, 2, 3, 255])));
call("split-words('  the quick  brown fox ')", () => api.splitWords('  the quick  brown fox '));
call("join-words(['a', 'bc', 'déf'], ', ')", () => api.joinWords(['a', 'bc', 'déf'], ', '));
call('translate({x: 1, y: -2}, 10, 20)', () => api.translate({ x: 1, y: -2 }, 10, 20));
call("swap([7, 'seven'])", () => api.swap([7, 'seven']));
call('describe-person(ada)', () =>
  api.describePerson({ name: 'Ada', age: 36, email: 'ada@example.com', tags: ['math', 'code'] }));
call('describe-person(kid)', () => api.describePerson({ name: 'Kid', age: 7, email: undefined, tags: [] }));
call("make-person('Bo', 20)", () => api.makePerson('Bo', 20));
call("make-person('Cy', 3)", () => api.makePerson('Cy', 3));
call('maybe-double(21)', () => api.maybeDouble(21));
call('maybe-double(none)', () => api.maybeDouble(undefined));
call("parse-number('1234')", () => api.parseNumber('1234'));
call("parse-number('12x4')", () => api.parseNumber('12x4'));
call("parse-number('')", () => api.parseNumber(''));
call('checked-div(7, 2)', () => api.checkedDiv(7, 2));
call('checked-div(1, 0)', () => api.checkedDiv(1, 0));
call('next-color(blue)', () => api.nextColor('blue'));
call('toggle-write({read})', () => api.toggleWrite({ read: true, write: false, exec: false }));
call('toggle-write({write, exec})', () => api.toggleWrite({ read: false, write: true, exec: true }));
call('area(circle(2))', () => api.area({ tag: 'circle', val: 2 }));
call('area(rect(3, 4))', () => api.area({ tag: 'rect', val: { x: 3, y: 4 } }));
call('bigger(rect(3, 4))', () => api.bigger({ tag: 'rect', val: { x: 3, y: 4 } }));
call('bigger(empty)', () => api.bigger({ tag: 'empty' }));
call('points(4)', () => api.points(4));
call('counter', () => {
  const a = new api.Counter(5n);
  const b = new api.Counter(-2n);
  const steps = [a.increment(10n), b.increment(1n), a.get()];
  const m = api.Counter.merge(a, b);
  steps.push(m.get(), m.increment(1n));
  return steps;
});
