"""Runs CPython test modules inside the sandboxed interpreter and prints one JSON result line.

    python3 driver.py [--skip TEST_ID=REASON]... MODULE...

As regrtest without -u (no optional resources, quiet), sequentially in one process; a module with
test_main() runs it (test_decimal), others are loaded with unittest's loader. --skip replaces one
test by a skip with the given reason (used only for real sandbox limits, listed in
expectations.json). The last line of stdout is `@@RESULT@@` + JSON {module: {ran, failures, errors,
skipped, seconds}}.
"""
import importlib, io, json, sys, time, traceback, unittest
from test import support
# As regrtest without -u: no optional resources (cpu, largefile, network, decimal, ...), quiet.
support.use_resources = []
support.verbose = 0
skips = {}
names = []
argv = sys.argv[1:]
while argv:
    arg = argv.pop(0)
    if arg == '--skip':
        test_id, _, reason = argv.pop(0).partition('=')
        skips[test_id] = reason
    else:
        names.append(arg)


def apply_skips(suite):
    for test in suite:
        if isinstance(test, unittest.TestSuite):
            apply_skips(test)
        elif test.id() in skips:
            reason = skips[test.id()]
            setattr(test, test._testMethodName, lambda reason=reason, test=test: test.skipTest(reason))


out = {}
for name in names:
    t0 = time.monotonic()
    result = unittest.TestResult()
    result.buffer = True
    support._run_suite = lambda suite: suite.run(result)
    try:
        mod = importlib.import_module('test.' + name)
        if hasattr(mod, 'test_main'):
            # Older modules (test_decimal) set up and run their own classes, as regrtest lets them.
            try:
                mod.test_main()
            except support.TestFailed as e:
                if not (result.failures or result.errors):
                    result.errors.append(('<test_main %s>' % name, str(e)))
        else:
            loader = unittest.TestLoader()
            suite = loader.loadTestsFromModule(mod)
            apply_skips(suite)
            for err in loader.errors:
                result.errors.append(('<load %s>' % name, err))
            suite.run(result)
    except BaseException:
        result.errors.append(('<import %s>' % name, traceback.format_exc()))
    out[name] = {
        'ran': result.testsRun,
        'failures': [[str(t), tb[-3000:]] for t, tb in result.failures],
        'errors': [[str(t), tb[-3000:]] for t, tb in result.errors],
        'skipped': [[str(t), str(r)] for t, r in result.skipped],
        'unexpectedSuccesses': [str(t) for t in result.unexpectedSuccesses],
        'seconds': round(time.monotonic() - t0, 2),
    }
sys.stdout.write('\n@@RESULT@@' + json.dumps(out) + '\n')
