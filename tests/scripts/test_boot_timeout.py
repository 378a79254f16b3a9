"""Unit tests of the console watch under scripts/qemu.py's boot(): the
overall timeout and the silence timeout, with shell commands standing in
for QEMU (no QEMU, kernel or cross compiler needed).

Run with:  python3 -m unittest discover -s tests/scripts  (scripts/test.py does)
"""

import os
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))
sys.dont_write_bytecode = True

import qemu  # noqa: E402


def sh(script):
    return ["sh", "-c", script]


class WatchTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.log = os.path.join(self.tmp.name, "console.log")

    def tearDown(self):
        self.tmp.cleanup()

    def watch(self, script, timeout=60, silence=qemu.SILENCE, entry_silence=None):
        start = time.time()
        con = qemu.watch(sh(script), self.log, timeout, silence, entry_silence=entry_silence)
        return con, time.time() - start

    def test_silent_command_is_stopped(self):
        # Prints a line, then hangs without a word: stopped after 2 s of
        # silence, long before the overall timeout.
        con, secs = self.watch("echo hi; exec sleep 30", timeout=60, silence=2)
        self.assertEqual(con.stopped, "silent for 2 s")
        self.assertEqual(con.lines, ["hi"])
        self.assertGreaterEqual(secs, 2)
        self.assertLess(secs, 10)
        with open(self.log) as f:
            self.assertEqual(f.read(), "hi\n")

    def test_talkative_command_hits_overall_timeout(self):
        con, secs = self.watch("while :; do echo tick; sleep 0.2; done", timeout=2, silence=1)
        self.assertEqual(con.stopped, "timeout after 2 s")
        self.assertGreater(len(con.lines), 3)
        self.assertLess(secs, 8)

    def test_partial_lines_count_as_output(self):
        # Four dots 0.8 s apart, then the newline: never 1.5 s silent.
        con, _ = self.watch("for i in 1 2 3 4; do printf .; sleep 0.8; done; echo; echo done",
                            silence=1.5)
        self.assertIsNone(con.stopped)
        self.assertEqual(con.lines, ["....", "done"])
        self.assertLess(con.longest_silence, 1.5)

    def test_command_that_ends_is_not_stopped(self):
        con, secs = self.watch("echo a; echo b; printf c", silence=2)
        self.assertIsNone(con.stopped)
        self.assertEqual(con.lines, ["a", "b", "c"])
        self.assertLess(secs, 2)

    def test_plan_entry_has_its_own_limit(self):
        # Silent for 2.5 s inside the entry "quiet" (limit 5 s): not stopped,
        # although the limit outside entries is 1 s.
        con, _ = self.watch('echo "@@BEGIN quiet"; sleep 2.5; echo "@@END quiet rc=0"',
                            silence=1, entry_silence={"quiet": 5})
        self.assertIsNone(con.stopped)
        self.assertGreaterEqual(con.longest_silence, 2.5)

    def test_entry_limit_ends_with_the_entry(self):
        con, secs = self.watch('echo "@@BEGIN quiet"; echo "@@END quiet rc=0"; exec sleep 30',
                               silence=1, entry_silence={"quiet": 60})
        self.assertEqual(con.stopped, "silent for 1 s")
        self.assertLess(secs, 8)

    def test_entry_without_own_limit_uses_the_default(self):
        con, secs = self.watch('echo "@@BEGIN other"; exec sleep 30', silence=1,
                               entry_silence={"quiet": 60})
        self.assertEqual(con.stopped, "silent for 1 s")
        self.assertLess(secs, 8)

    def test_entry_without_limit(self):
        # None: only the overall timeout ends a silent entry.
        con, _ = self.watch('echo "@@BEGIN quiet"; exec sleep 30', timeout=2, silence=1,
                            entry_silence={"quiet": None})
        self.assertEqual(con.stopped, "timeout after 2 s")


class PlanSilenceTest(unittest.TestCase):
    PLAN = ["sbi_pmu_test 120 /bin/sbi_pmu_test", "fuzz 5400 /bin/fuzz -s 1 -n 500000"]

    def test_entry_timeout_plus_silence(self):
        self.assertEqual(qemu.plan_silence(self.PLAN, 120), {"sbi_pmu_test": 240, "fuzz": 5520})

    def test_no_limit_under_icount(self):
        self.assertEqual(qemu.plan_silence(self.PLAN, 120, icount=True),
                         {"sbi_pmu_test": None, "fuzz": None})


if __name__ == "__main__":
    unittest.main()
