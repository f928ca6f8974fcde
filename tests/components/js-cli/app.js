// A wasi:cli command in JavaScript: prints its arguments and the KILN_* environment variables;
// fails (run returns err, exit status 1) when an argument is "fail".
import { getArguments, getEnvironment } from 'wasi:cli/environment@0.2.10';

export const run = {
  run() {
    const args = getArguments();
    console.log('hello from JavaScript');
    console.log(`args=${JSON.stringify(args)}`);
    for (const [k, v] of getEnvironment()) {
      if (k.startsWith('KILN_')) console.log(`env ${k}=${v}`);
    }
    if (args.includes('fail')) throw new Error('asked to fail');
  },
};
