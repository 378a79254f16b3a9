#!/usr/bin/env python3
"""Spectre-v1 gate for the SBI PMU code of a built riscv vmlinux.

Disassembles the functions of vcpu_pmu.o, vcpu_sbi_pmu.o and (Rust build)
pmu_snapshot.o as linked into vmlinux and runs a forward taint analysis
over each function's CFG.  A register is tainted when it may hold a
guest-controlled index that no speculation barrier clamped; a load or store
whose base register is tainted is a violation.

Taint sources: (a) the guest argument registers of the SBI entry points
(ENTRY_TAINT); (b) every register compared by an ordering branch
(blt/bge/bltu/bgeu, bgt/ble/bgtu/bleu) or by slt/sltu/slti/sltiu: a value
that is bounds-checked is an index (not: compares with zero or a constant
register, slti x,0 sign tests, beq/bne null checks, already clamped values),
and so is the register a checked narrowed copy (mv, sext.w, zext.h/w, and
with a constant) was taken from, and its other copies;
(c) the result of a load whose address was tainted (double load).

Sanitizers: and/andn with a MASK (0/-1: srai/sra by 63, *w by 31;
neg/not/addi -1/xori -1 of a boolean or mask; booleans are slt*, seqz,
snez, srli 63, xori 1, andi 1), i.e. array_index_nospec() in its
not+srai, srli 63+addi -1 and slti 0+addi -1 forms and index_nospec();
and with a boolean; czero.* selected by a boolean; minu with a clean
bound; andi with a non-negative immediate, zext.b, srli leaving at most
6 bits.  Values
computed only from such results stay "clamped" and a later compare of
them is not a new bounds check.

Calls clobber ra, t0-t6, a0-a7.  A callee in the analyzed set that gets
tainted argument registers is analyzed again with them tainted (memoized
by callee and register set); tail calls (j/auipc+jr) likewise.  Code only
reached through an unresolved `jr reg` (switch jump tables) is analyzed
with the state of that jr; a table load feeding it is tagged [jump table].

Limitations: no memory model (taint is not tracked through stack spills or
struct fields, except rule (c)); return values are never tainted; polarity
and size of a mask are trusted, not proved; an andi clamp is accepted
whatever the array size; indirect calls are not followed; branches
leaving a function (e.g. to .cold parts) end the path.

Usage: spectre_gate.py --vmlinux V --objdir BUILD [--functions a,b]
       [--verbose] [--json] [--allow-jump-tables] [--include-tests]
       spectre_gate.py --self-test
Exit status: 0 pass, 1 violations, 2 usage or tool error.
"""

import argparse
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field

# Guest-controlled argument registers of the SBI PMU entry points, and
# whether the entry is an optional helper.  A missing SBI entry point is an
# error, not a pass; an optional one (the Rust-side mask check, not built
# by the C path) is an error only when a PMU object defines it.
ENTRY_TAINT = {
    "kvm_riscv_vcpu_pmu_ctr_info": (("a1",), False),
    "kvm_riscv_vcpu_pmu_fw_ctr_read": (("a1",), False),
    "kvm_riscv_vcpu_pmu_fw_ctr_read_hi": (("a1",), False),
    "kvm_riscv_vcpu_pmu_ctr_start": (("a1", "a2", "a3", "a4"), False),
    "kvm_riscv_vcpu_pmu_ctr_stop": (("a1", "a2", "a3"), False),
    "kvm_riscv_vcpu_pmu_ctr_cfg_match":
        (("a1", "a2", "a3", "a4", "a5"), False),
    "kvm_riscv_vcpu_pmu_read_hpm": (("a1",), False),
    "kvm_riscv_vcpu_pmu_snapshot_set_shmem": (("a1", "a2", "a3"), False),
    "kvm_riscv_pmu_rs_counter_mask_valid": (("a0", "a1"), True),
    # SBI v3.0 event_get_info and the helper it asks about each event: the
    # Rust path only.
    "kvm_riscv_vcpu_pmu_event_info": (("a1", "a2", "a3", "a4"), True),
    "kvm_riscv_vcpu_pmu_event_supported": (("a0", "a1"), True),
}

OBJECTS = ("arch/riscv/kvm/vcpu_pmu.o", "arch/riscv/kvm/vcpu_sbi_pmu.o")
RUST_OBJECT = "arch/riscv/kvm/pmu_snapshot.o"
# KUnit-only code in pmu_snapshot.o (the Rust `tests` module, generic
# instantiations over its fakes, the kunit FFI hooks): no guest reaches it.
TEST_CODE = re.compile(r"5tests|^kvm_pmu_snapshot_test_")
LLVM_BIN = os.environ.get("LLVM_BIN", "/usr/lib/llvm-19/bin")

ARG_REGS = tuple("a%d" % i for i in range(8))
CALLER_SAVED = ("ra",) + tuple("t%d" % i for i in range(7)) + ARG_REGS
LOADS = {"lb", "lh", "lw", "ld", "lbu", "lhu", "lwu", "flh", "flw", "fld"}
STORES = {"sb", "sh", "sw", "sd", "fsh", "fsw", "fsd"}
ORDER_BRANCHES = {"blt", "bge", "bltu", "bgeu", "bgt", "ble", "bgtu", "bleu"}
COND_BRANCHES = ORDER_BRANCHES | {"beq", "bne", "beqz", "bnez", "blez",
                                  "bgez", "bltz", "bgtz"}
ORDER_SETS = {"slt", "sltu", "slti", "sltiu"}
BOOL_OPS = ORDER_SETS | {"seqz", "snez", "sltz", "sgtz"}
SHIFT_OPS = {"sll", "srl", "sra", "sllw", "srlw", "sraw", "rol", "ror",
             "rolw", "rorw", "bclr", "bset", "binv", "bext"}
NO_DEST = ("fence", "sfence", "hfence", "hinval", "sinval", "ebreak", "ecall",
           "wfi", "nop", "mret", "sret", "pause")
BOUNDED = ("bool", "mask", "clamped")
MEM_RE = re.compile(r"^(-?(?:0x[0-9a-fA-F]+|\d+))?\((\w+)\)$")
INSN_RE = re.compile(r"^\s*([0-9a-fA-F]+):\s+(\S+)\s*(.*)$")
LABEL_RE = re.compile(r"^([0-9a-fA-F]+) <(.+)>:\s*$")
MASK64 = (1 << 64) - 1


class GateError(Exception):
    """A usage or tool error (exit status 2)."""


# ---------------------------------------------------------------- parsing

@dataclass(frozen=True)
class Insn:
    """One instruction: address, mnemonic, operand tokens, printable text."""
    addr: int
    mnem: str
    ops: tuple
    text: str


@dataclass
class Function:
    """A function: name, [start, end) address range, instructions."""
    name: str
    start: int
    end: int
    insns: list


def is_reg(tok):
    """Whether an operand token is a register (not immediate or memory)."""
    return bool(tok) and tok[0] not in "-0123456789" and "(" not in tok


def parse_listing(text):
    """Parse llvm-objdump -d --no-show-raw-insn output.

    Returns (instructions, labels); labels lists (addr, name) for every
    ``addr <name>:`` header, local labels such as .Lpcrel_hi* included.
    """
    insns, labels = [], []
    for line in text.splitlines():
        m = LABEL_RE.match(line)
        if m:
            labels.append((int(m.group(1), 16), m.group(2)))
            continue
        m = INSN_RE.match(line)
        if m:
            rest = m.group(3).split(" <", 1)[0].strip()
            ops = tuple(o.strip() for o in rest.split(",")) if rest else ()
            txt = ("%s\t%s" % (m.group(2), ", ".join(ops))).strip()
            insns.append(Insn(int(m.group(1), 16), m.group(2), ops, txt))
    return insns, labels


def split_functions(text, ranges=None):
    """Split a listing into {name: Function}.

    With ``ranges`` ({name: (start, end)}, from llvm-nm -S) instructions are
    sliced by address.  Otherwise each header that is not a local label
    (.L*, mapping symbols) starts a function running to the next one.
    """
    insns, labels = parse_listing(text)
    if ranges is None:
        starts = sorted((a, n) for a, n in labels
                        if not n.startswith(".L") and "$" not in n)
        ends = [a for a, _ in starts[1:]] + [1 << 64]
        ranges = {n: (a, e) for (a, n), e in zip(starts, ends)}
    funcs = {}
    for name, (start, end) in ranges.items():
        body = [i for i in insns if start <= i.addr < end]
        if body:
            funcs[name] = Function(name, start, end, body)
    return funcs


# -------------------------------------------------------------------- CFG

@dataclass
class Block:
    """A basic block: instruction indices first..last and successors."""
    first: int
    last: int
    succs: list = field(default_factory=list)


def branch_target(insn):
    """Direct target address of a branch, j, jal, call or tail, or None."""
    if insn.mnem in COND_BRANCHES or insn.mnem in ("j", "jal", "call",
                                                   "tail"):
        if insn.ops and not is_reg(insn.ops[-1]):
            return int(insn.ops[-1], 0)
    return None


def is_indirect_jump(insn):
    """``jr reg`` / ``jalr zero, ...`` (not ``ret``): a jump with no link."""
    return insn.mnem == "jr" or (insn.mnem == "jalr" and len(insn.ops) == 2
                                 and insn.ops[0] == "zero")


def build_cfg(func):
    """Basic blocks of ``func`` as {first_index: Block}.

    Blocks reached only through an unresolved ``jr`` (jump-table cases)
    become successors of every such ``jr``.
    """
    index = {ins.addr: i for i, ins in enumerate(func.insns)}
    n, leaders = len(func.insns), {0}
    for i, ins in enumerate(func.insns):
        if ins.mnem in COND_BRANCHES or ins.mnem in ("j", "tail", "ret") \
                or is_indirect_jump(ins):
            leaders.add(i + 1)
            if branch_target(ins) in index and ins.mnem != "tail":
                leaders.add(index[branch_target(ins)])
    order = sorted(x for x in leaders if x < n)
    blocks, jumps = {}, []
    for first, nxt in zip(order, order[1:] + [n]):
        blk = blocks[first] = Block(first, nxt - 1)
        ins, tgt = func.insns[nxt - 1], branch_target(func.insns[nxt - 1])
        if ins.mnem in COND_BRANCHES:
            blk.succs = [s for s in (index.get(tgt), nxt)
                         if s is not None and s < n]
        elif ins.mnem == "j":
            blk.succs = [index[tgt]] if tgt in index else []
        elif is_indirect_jump(ins):
            jumps.append(blk)
        elif ins.mnem not in ("ret", "tail", "unimp", "c.unimp") and nxt < n:
            blk.succs = [nxt]
    if jumps:
        seen, todo = set(), [0]
        while todo:
            b = todo.pop()
            if b not in seen:
                seen.add(b)
                todo.extend(blocks[b].succs)
        for blk in jumps:
            blk.succs = [b for b in order if b not in seen]
    return blocks


# --------------------------------------------------------------- dataflow

@dataclass(frozen=True)
class Origin:
    """Where a taint came from; kind is arg, param, check or load."""
    kind: str
    func: str
    addr: int
    text: str


@dataclass
class Violation:
    """A memory access whose base address register is tainted."""
    func: str
    addr: int
    text: str
    base: str
    origins: set
    jump_table: bool = False


class State:
    """Per-register taint (sets of Origin), value kinds and copy sources.

    Kinds are must-facts: 'bool' (0/1), 'mask' (0/-1), 'clamped' (computed
    from sanitized or bounded values only) or ('const', value).  ``src``
    maps a register to the register it is a narrowed copy of (mv, sext.w,
    zext.h/w, and with a constant), so that a bounds check of the copy
    also marks the original.  Join: union of taints, intersection of the
    other facts.
    """
    __slots__ = ("taint", "kind", "src")

    def __init__(self, taint=None, kind=None, src=None):
        self.taint, self.kind = dict(taint or {}), dict(kind or {})
        self.src = dict(src or {})

    def copy(self):
        """An independent copy."""
        return State(self.taint, self.kind, self.src)

    def join(self, other):
        """Least upper bound of two states."""
        taint = dict(self.taint)
        for reg, orig in other.taint.items():
            taint[reg] = taint.get(reg, frozenset()) | orig
        return State(taint, {r: k for r, k in self.kind.items()
                             if other.kind.get(r) == k},
                     {r: v for r, v in self.src.items()
                      if other.src.get(r) == v})

    def __eq__(self, other):
        return (self.taint, self.kind, self.src) == \
            (other.taint, other.kind, other.src)

    def get(self, reg):
        """Taint of ``reg`` (a frozenset of Origin)."""
        return self.taint.get(reg, frozenset())

    def const(self, reg):
        """Known constant value of ``reg``, or None."""
        k = self.kind.get(reg)
        return 0 if reg == "zero" else k[1] if isinstance(k, tuple) else None

    def put(self, reg, taint=frozenset(), kind=None, src=None):
        """Define ``reg`` with ``taint``, ``kind`` and copy source."""
        if reg == "zero":
            return
        self.taint.pop(reg, None)
        self.kind.pop(reg, None)
        self.src = {r: v for r, v in self.src.items() if reg not in (r, v)}
        if taint:
            self.taint[reg] = frozenset(taint)
        if kind is not None:
            self.kind[reg] = kind
        if src not in (None, reg, "zero"):
            self.src[reg] = self.src.get(src, src)


def _sext(value, bits):
    """Sign-extend ``value`` from ``bits`` bits."""
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def _imm(tok):
    """Value of an immediate operand token, or None."""
    try:
        return int(tok, 0)
    except ValueError:
        return None


def _mem(tok):
    """(base register, offset) of a memory operand ``off(reg)``."""
    m = MEM_RE.match(tok)
    return (m.group(2), int(m.group(1) or "0", 0)) if m else (None, 0)


class Analyzer:
    """Taint analysis over {name: Function} (see the module docstring)."""

    def __init__(self, functions, entry_taint=None):
        self.funcs = functions
        table = ENTRY_TAINT if entry_taint is None else entry_taint
        self.entry = {k: v[0] for k, v in table.items()}
        self.by_addr = {f.start: f.name for f in functions.values()}
        self.cfgs, self.memo, self.analyzed = {}, set(), []
        self.violations = {}      # func -> {addr: Violation}
        self.call_args = {}       # (caller, call addr) -> {reg: origins}

    def run(self, roots=None):
        """Analyze ``roots`` (default all) with their entry taint."""
        for name in roots or sorted(self.funcs):
            start = self.funcs[name].start
            self.analyze(name, {r: frozenset([Origin(
                "arg", name, start, "entry argument %s" % r)])
                for r in self.entry.get(name, ())})
        return self.violations

    def analyze(self, name, params):
        """Worklist dataflow of ``name`` with ``params`` tainted."""
        if (name, frozenset(params)) in self.memo:
            return
        self.memo.add((name, frozenset(params)))
        if name not in self.analyzed:
            self.analyzed.append(name)
        self.violations.setdefault(name, {})
        func = self.funcs[name]
        cfg = self.cfgs.setdefault(name, build_cfg(func))
        states, work = {0: State(params)}, [0]
        while work:
            blk = cfg[work.pop()]
            st = states[blk.first].copy()
            for i in range(blk.first, blk.last + 1):
                self.step(func, i, st)
            for s in blk.succs:
                new = st if s not in states else states[s].join(st)
                if s not in states or new != states[s]:
                    states[s] = new.copy()
                    if s not in work:
                        work.append(s)

    def _sink(self, func, idx, base, st):
        """Record a violation if address register ``base`` is tainted."""
        if not st.get(base):
            return False
        ins = func.insns[idx]
        per = self.violations[func.name]
        if ins.addr not in per:
            rd, nxt = ins.ops[0], func.insns[idx + 1:idx + 4]
            jr = next((i for i in nxt if is_indirect_jump(i)
                       or i.ops[:1] == (rd,)), None)
            per[ins.addr] = Violation(
                func.name, ins.addr, ins.text, base, set(),
                ins.mnem in LOADS and jr is not None and
                is_indirect_jump(jr) and jr.ops[-1] == rd)
        per[ins.addr].origins |= st.get(base)
        return True

    def _call(self, func, ins, target, st, tail):
        """A call or tail call to ``target`` (an address or None)."""
        name = self.by_addr.get(target)
        tainted = {r: st.get(r) for r in ARG_REGS if st.get(r)}
        if name is not None and tainted:
            site = self.call_args.setdefault((func.name, ins.addr), {})
            for r, o in tainted.items():
                site[r] = site.get(r, frozenset()) | o
            self.analyze(name, {r: frozenset([Origin(
                "param", func.name, ins.addr, "%s passed by %s at %x"
                % (r, func.name, ins.addr))]) for r in tainted})
        if not tail:
            for r in CALLER_SAVED:
                st.put(r)

    def _check(self, func, ins, regs, st):
        """Rule (b): taint the compared registers and their copies."""
        origin = Origin("check", func.name, ins.addr, ins.text)
        group = set()
        for r in filter(is_reg, regs):
            root = st.src.get(r, r)
            group |= {r, root} | {q for q, v in st.src.items() if v == root}
        for r in group:
            if st.const(r) is None and st.kind.get(r) not in BOUNDED:
                st.taint[r] = st.get(r) | {origin}

    def step(self, func, idx, st):
        """Apply instruction ``func.insns[idx]`` to state ``st``."""
        ins = func.insns[idx]
        m, ops = ins.mnem, ins.ops
        if m in LOADS or m in STORES or \
                m.startswith(("amo", "lr.", "sc.", "hlv", "hsv")):
            bad = self._sink(func, idx, _mem(ops[-1])[0], st)
            if m not in STORES and not m.startswith("hsv"):
                loaded = bad and not m.startswith("sc.")
                st.put(ops[0], {Origin("load", func.name, ins.addr,
                                       ins.text)} if loaded else ())
        elif m.startswith(("cbo.", "prefetch.")):
            self._sink(func, idx, _mem(ops[-1])[0], st)
        elif m in COND_BRANCHES:
            if m in ORDER_BRANCHES:
                self._check(func, ins, ops[:2], st)
        elif m in ("j", "tail"):
            tgt = branch_target(ins)
            if tgt is not None and not func.start <= tgt < func.end:
                self._call(func, ins, tgt, st, tail=True)
        elif m in ("jal", "call"):
            self._call(func, ins, branch_target(ins), st, tail=False)
        elif m in ("jalr", "jr"):
            base, off = _mem(ops[-1])
            if base is None:
                base, off = ops[-1], 0
            c = st.const(base)
            self._call(func, ins, None if c is None else (c + off) & MASK64,
                       st, tail=is_indirect_jump(ins))
        elif m != "ret" and ops and not m.startswith(NO_DEST):
            self._alu(func, ins, st)

    def _alu(self, func, ins, st):
        """Transfer of a register-writing, non-memory instruction."""
        m, ops = ins.mnem, ins.ops
        rd, srcs = ops[0], [o for o in ops[1:] if is_reg(o)]
        imm = _imm(ops[-1])
        kinds = [st.kind.get(s) for s in srcs] or [None]
        wide = 32 if m.endswith("w") else 64
        if m.startswith("csr"):
            st.put(rd)
        elif m in ("li", "lui", "auipc"):
            val = imm if m == "li" else _sext(imm << 12, 32)
            st.put(rd, kind=("const", (val + ins.addr) & MASK64
                             if m == "auipc" else val))
        elif m in BOOL_OPS:
            if m in ORDER_SETS and not (m == "slti" and imm == 0):
                self._check(func, ins, srcs, st)
            st.put(rd, kind="bool")
        elif m in ("and", "or", "xor") and len(set(kinds)) == 1 and \
                kinds[0] in ("bool", "mask"):
            st.put(rd, kind=kinds[0])
        elif m in ("and", "andn") and "mask" in kinds or \
                m == "and" and "bool" in kinds or \
                m.startswith("czero.") and kinds[-1] == "bool" or \
                m == "minu" and not all(st.get(r) for r in srcs) or \
                m == "andi" and (imm or 0) >= 0 or m == "zext.b":
            st.put(rd, kind="bool" if m == "andi" and imm == 1
                   else "clamped")
        elif m in ("srli", "srliw") and (imm or 0) >= wide - 6:
            st.put(rd, kind="bool" if imm == wide - 1 else "clamped")
        elif m in ("srai", "sraiw", "sra", "sraw") and wide - 1 == (
                imm if imm is not None else st.const(srcs[-1])):
            st.put(rd, kind="mask")
        elif m in ("neg", "negw", "not") and kinds[0] in ("bool", "mask") \
                or m in ("addi", "addiw") and imm == -1 and \
                kinds[0] == "bool":
            st.put(rd, kind="mask")
        elif m == "xori" and (imm, kinds[0]) in ((1, "bool"), (-1, "mask")):
            st.put(rd, kind=kinds[0])
        elif m in ("addi", "addiw", "mv") and st.const(srcs[0]) is not None:
            st.put(rd, kind=("const", st.const(srcs[0]) + (imm or 0)))
        else:
            vals = srcs[:1] if m in SHIFT_OPS or m.startswith("czero.") \
                else srcs
            taint = frozenset().union(*[st.get(s) for s in vals])
            small = [st.kind.get(s) in BOUNDED for s in vals]
            bounded = not taint and any(small) and all(
                b or st.const(s) is not None for b, s in zip(small, vals))
            var = [s for s in vals if st.const(s) is None]
            copy = len(var) == 1 and (m in ("mv", "sext.w", "zext.h",
                                            "zext.w", "and")
                                      or m == "andi" and imm < 0)
            st.put(rd, taint, "clamped" if bounded else None,
                   var[0] if copy else None)


# -------------------------------------------------------------- reporting

_KIND_ORDER = {"arg": 0, "param": 1, "check": 2, "load": 3}


def _sorted(origins):
    """Origins, most informative first, in a stable order."""
    return sorted(origins, key=lambda o: (_KIND_ORDER[o.kind], o.addr))


def describe(analyzer, origin, depth=0):
    """Readable taint chain of ``origin``, through loads and call sites."""
    if origin.kind == "arg":
        return "%s of %s" % (origin.text, origin.func)
    if origin.kind == "check":
        return "bounds check %x: %s" % (origin.addr, origin.text)
    if origin.kind == "load":
        head = "tainted load %x: %s" % (origin.addr, origin.text)
        viol = analyzer.violations.get(origin.func, {}).get(origin.addr)
        parents = viol.origins if viol else ()
    else:
        head = origin.text
        parents = analyzer.call_args.get((origin.func, origin.addr), {}) \
            .get(origin.text.split()[0], ())
    parents = [p for p in _sorted(parents) if p != origin]
    if not parents or depth >= 6:
        return head
    return "%s <- %s" % (head, describe(analyzer, parents[0], depth + 1))


def results(analyzer, allow_jump_tables=False):
    """[(function, [violation dicts])] sorted by function name."""
    out = []
    for name in sorted(analyzer.analyzed):
        out.append((name, [
            {"addr": "%x" % v.addr, "insn": v.text, "base": v.base,
             "jump_table": v.jump_table,
             "sources": [describe(analyzer, o) for o in _sorted(v.origins)]}
            for v in sorted(analyzer.violations[name].values(),
                            key=lambda v: v.addr)
            if not (v.jump_table and allow_jump_tables)]))
    return out


def format_line(name, viols, verbose=False):
    """The PASS/FAIL line of a function (with details when verbose)."""
    if not viols:
        return "PASS %s" % name
    line = "FAIL %s  (%d guest-index accesses without a barrier: %s)" % (
        name, len(viols), "; ".join("%s %s <- %s" % (
            v["addr"], v["insn"], v["sources"][0]) for v in viols))
    for v in viols if verbose else ():
        line += "\n    %s %s%s" % (v["addr"], v["insn"], " [jump table]"
                                   if v["jump_table"] else "")
        line += "".join("\n        <- %s" % s for s in v["sources"])
    return line


def analyze_text(text, roots=None, entry_taint=None):
    """Analyze a disassembly listing; returns the Analyzer."""
    analyzer = Analyzer(split_functions(text), entry_taint)
    analyzer.run(roots)
    return analyzer


# ---------------------------------------------------------------- vmlinux

def _tool(name, *args):
    """Run an LLVM tool; its stdout, or GateError."""
    path = os.path.join(LLVM_BIN, name)
    try:
        proc = subprocess.run([path] + list(args), capture_output=True,
                              text=True, check=False)
    except OSError as exc:
        raise GateError("cannot run %s: %s" % (path, exc)) from exc
    if proc.returncode != 0:
        raise GateError("%s failed: %s" % (name, proc.stderr.strip()))
    return proc.stdout


def text_symbols(path):
    """{name: [(addr, size)]} of the t/T symbols defined in ``path``.

    Local labels (.L*) and mapping symbols ($x, $d) are left out.
    """
    syms = {}
    for line in _tool("llvm-nm", "-S", "--defined-only", path).splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] in ("t", "T") and \
                not parts[3].startswith(".L") and "$" not in parts[3]:
            syms.setdefault(parts[3], []).append((int(parts[0], 16),
                                                  int(parts[1], 16)))
    return syms


def choose_copies(cands, lo, hi):
    """Copies (addr, size) within 64 KiB of [lo, hi], else the nearest."""
    near = [c for c in cands if lo - 0x10000 <= c[0] <= hi + 0x10000]
    return near or [min(cands, key=lambda c: min(abs(c[0] - lo),
                                                 abs(c[0] - hi)))]


def select_ranges(objdir, syms, log):
    """vmlinux ranges of the functions defined by the PMU objects.

    Returns (ranges, names defined by the objects).  A static
    name defined several times in vmlinux resolves to the copies next to
    the object's uniquely named functions (choose_copies); each is analyzed.
    """
    objects = [os.path.join(objdir, o) for o in OBJECTS]
    for obj in objects:
        if not os.path.isfile(obj):
            raise GateError("missing object %s" % obj)
    if os.path.isfile(os.path.join(objdir, RUST_OBJECT)):
        objects.append(os.path.join(objdir, RUST_OBJECT))
    ranges, defined = {}, set()
    for obj in objects:
        names = set(text_symbols(obj))
        defined |= names
        unique = [syms[n][0][0] for n in names
                  if len(syms.get(n, ())) == 1] or [0, 1 << 64]
        for name in sorted(names):
            cands = [c for c in syms.get(name, ()) if c[1]]
            if not cands:
                log("note: %s (%s) is not in vmlinux (inlined)"
                    % (name, os.path.basename(obj)))
                continue
            chosen = choose_copies(cands, min(unique), max(unique))
            if len(cands) > 1:
                log("note: %s has %d copies in vmlinux; analyzing %s" % (
                    name, len(cands), ", ".join("%x" % c[0] for c in chosen)))
            for k, (addr, size) in enumerate(chosen):
                ranges[name if k == 0 else "%s@%x" % (name, addr)] = \
                    (addr, addr + size)
    return ranges, defined


def check_entries(defined, ranges):
    """Every expected entry point must be in vmlinux; else GateError.

    Optional entries are required only when one of the objects defines them.
    """
    why = {True: "inlined or dropped", False: "not defined by the objects"}
    missing = ["%s (%s)" % (name, why[name in defined])
               for name, (_, optional) in ENTRY_TAINT.items()
               if name not in ranges and (name in defined or not optional)]
    if missing:
        raise GateError("entry points missing: " + ", ".join(missing))


def load_vmlinux(vmlinux, objdir, log):
    """{name: Function} of the PMU objects' functions found in vmlinux."""
    if not os.path.isfile(vmlinux):
        raise GateError("no such vmlinux: %s" % vmlinux)
    ranges, defined = select_ranges(objdir, text_symbols(vmlinux), log)
    check_entries(defined, ranges)
    spans = []          # few objdump runs over merged, nearby ranges
    for start, end in sorted(ranges.values()):
        if spans and start - spans[-1][1] < 0x4000:
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([start, end])
    text = "\n".join(_tool("llvm-objdump", "-d", "--no-show-raw-insn",
                           "--start-address=0x%x" % s,
                           "--stop-address=0x%x" % e, vmlinux)
                     for s, e in spans)
    return split_functions(text, ranges)


# -------------------------------------------------------------------- CLI

def self_test():
    """Run the unit tests of tests/gate; returns an exit status."""
    import unittest
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    suite = unittest.defaultTestLoader.discover(
        os.path.join(root, "tests", "gate"))
    return 0 if unittest.TextTestRunner().run(suite).wasSuccessful() else 1


def parse_args(argv):
    """Command-line options."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vmlinux", help="vmlinux to check")
    ap.add_argument("--objdir", help="its kernel build directory")
    ap.add_argument("--functions", help="comma-separated roots to analyze")
    ap.add_argument("--verbose", action="store_true",
                    help="notes, skipped code and every taint source")
    ap.add_argument("--json", action="store_true", help="JSON report")
    ap.add_argument("--allow-jump-tables", action="store_true",
                    help="do not count switch jump-table loads")
    ap.add_argument("--include-tests", action="store_true",
                    help="also analyze the KUnit-only test code")
    ap.add_argument("--self-test", action="store_true",
                    help="run the unit tests")
    return ap.parse_args(argv)


def main(argv=None):
    """Command-line entry point; returns the exit status."""
    try:
        args = parse_args(argv)
    except SystemExit as exc:
        return 0 if exc.code == 0 else 2
    if args.self_test:
        return self_test()
    notes = []
    try:
        if not args.vmlinux or not args.objdir:
            raise GateError("--vmlinux and --objdir are required")
        funcs = load_vmlinux(args.vmlinux, args.objdir, notes.append)
        skipped = [] if args.include_tests else \
            sorted(f for f in funcs if TEST_CODE.search(f))
        roots = [f for f in sorted(funcs) if f not in skipped]
        if args.functions:
            roots = [f.strip() for f in args.functions.split(",") if f]
            unknown = [f for f in roots if f not in funcs]
            if unknown:
                raise GateError("not analyzable: " + ", ".join(unknown))
    except GateError as exc:
        print("spectre_gate: error: %s" % exc, file=sys.stderr)
        return 2
    analyzer = Analyzer(funcs)
    analyzer.run(roots)
    res = results(analyzer, args.allow_jump_tables)
    failed = [n for n, v in res if v]
    nviol = sum(len(v) for _, v in res)
    if args.json:
        print(json.dumps({
            "vmlinux": args.vmlinux, "notes": notes, "skipped": skipped,
            "functions": [{"name": n, "status": "FAIL" if v else "PASS",
                           "violations": v} for n, v in res],
            "failed": len(failed), "violations": nviol}, indent=2))
        return 1 if failed else 0
    for line in (notes + ["SKIP %s (KUnit test code)" % s for s in skipped]
                 if args.verbose else []):
        print(line)
    for name, viols in res:
        print(format_line(name, viols, args.verbose))
    print("spectre_gate: %d functions, %d FAIL, %d violations, %d test "
          "functions skipped: %s" % (len(res), len(failed), nviol,
                                     len(skipped),
                                     "FAIL" if failed else "PASS"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
