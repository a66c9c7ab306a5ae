"""A compiled scanner for Binance stream captures: lines of bytes in, one row of integers per message out.

Why compiled: the reference importer (``capture._read_binance_reference``) runs ``json.loads`` and a few
dozen Python operations for every message and every price level: 0.17-0.28 M events/s, slower than
hftbacktest's own converter. Here a Numba function walks the decompressed bytes once and writes what the
importer needs (times, update ids, prices and quantities as integer mantissas with their decimals) into
preallocated integer arrays; the assembly (``binance_fast``) is then vectorised numpy. A
general JSON library was measured against it in thought, not adopted: even the fastest builds a Python
object per message and per level, and those objects, not the parsing, are what cost the time.

The scanner is a strict JSON reader for the shapes Binance sends and no more: a line it cannot read exactly
as ``json.loads`` would (an escape in a string, a float where an integer is expected, a key it interprets
twice, non-ASCII or control bytes, a level that is not a pair of decimal strings, ...) stops the scan and
the whole capture goes to the reference importer, which either reads it or names the file and line that is
wrong. So the fast path never decides an error and never reads a line differently: it only reads faster the
lines it is sure of (tests compare the two on every shipped capture and on mutated ones).

Units: times as written (ns for the receive time, ms for E and T), prices and quantities as
(mantissa, decimals) of their decimal strings after trailing zeros are dropped ("61837.63000000" -> 6183763, 2).
"""
from __future__ import annotations

import numpy as np

from kernels._jit import jit_borrow

MISSING = np.iinfo(np.int64).min  # a field the message does not carry

# message kinds
K_DEPTH, K_TRADE, K_BBO, K_SNAPSHOT, K_IGNORED = 1, 2, 3, 4, 5

# columns of a message row
(C_LOCAL, C_KIND, C_E, C_T, C_U, C_LU, C_PU, C_LID, C_TID, C_MAKER, C_P_M, C_P_D, C_Q_M, C_Q_D,
 C_BB_M, C_BB_D, C_BQ_M, C_BQ_D, C_AA_M, C_AA_D, C_AQ_M, C_AQ_D, C_HAS_PU) = range(23)
N_COLS = 23

# columns of a level row: message row, side (0 bid, 1 ask), price mantissa/decimals, quantity mantissa/decimals
V_MSG, V_SIDE, V_P_M, V_P_D, V_Q_M, V_Q_D = range(6)
N_VCOLS = 6

# codes of the keys the importer reads
(KEY_OTHER, KEY_STREAM, KEY_DATA, KEY_LID, KEY_E, KEY_T, KEY_BIDS, KEY_ASKS, KEY_S, KEY_U, KEY_LU, KEY_PU,
 KEY_TID, KEY_M, KEY_P, KEY_Q, KEY_B, KEY_A, KEY_BQ, KEY_AQ) = range(20)

_AT_DEPTH = np.frombuffer(b"@depth", dtype=np.uint8)
_AT_TRADE = np.frombuffer(b"@trade", dtype=np.uint8)
_AT_AGGTRADE = np.frombuffer(b"@aggTrade", dtype=np.uint8)
_AT_BOOKTICKER = np.frombuffer(b"@bookTicker", dtype=np.uint8)
_DATA = np.frombuffer(b"data", dtype=np.uint8)
_BIDS = np.frombuffer(b"bids", dtype=np.uint8)
_ASKS = np.frombuffer(b"asks", dtype=np.uint8)
_STREAM = np.frombuffer(b"stream", dtype=np.uint8)
_LID = np.frombuffer(b"lastUpdateId", dtype=np.uint8)
_TRUE = np.frombuffer(b"true", dtype=np.uint8)
_FALSE = np.frombuffer(b"false", dtype=np.uint8)
_NULL = np.frombuffer(b"null", dtype=np.uint8)

_INT64_MAX = np.iinfo(np.int64).max

# the one-letter keys, by their byte
_ONE_CHAR_KEYS = np.full(128, KEY_OTHER, dtype=np.int64)
for _letter, _code in (("s", KEY_S), ("E", KEY_E), ("T", KEY_T), ("U", KEY_U), ("u", KEY_LU), ("t", KEY_TID),
                       ("m", KEY_M), ("p", KEY_P), ("q", KEY_Q), ("b", KEY_B), ("a", KEY_A), ("B", KEY_BQ),
                       ("A", KEY_AQ)):
    _ONE_CHAR_KEYS[ord(_letter)] = _code


@jit_borrow
def count_bytes(buf):
    """(newlines, '[', bytes the scanner leaves to Python's text decoding: control bytes other than tab and
    newline, CR, non-ASCII) in ``buf``: the first two size a scan's output (a level opens with '[')."""
    lines = 0
    brackets = 0
    foreign = 0
    for i in range(buf.size):
        c = buf[i]
        lines += c == 10
        brackets += c == 91
        foreign += (c < 32) & (c != 9) & (c != 10) | (c > 126)
    return lines, brackets, foreign


@jit_borrow
def _matches(buf, at, pattern):
    if at < 0 or at + pattern.size > buf.size:
        return False
    for k in range(pattern.size):
        if buf[at + k] != pattern[k]:
            return False
    return True


@jit_borrow
def _ws(buf, i, end):
    while i < end and (buf[i] == 32 or buf[i] == 9):
        i += 1
    return i


@jit_borrow
def _key_code(buf, s, n):
    if n == 1:
        return _ONE_CHAR_KEYS[buf[s]] if buf[s] < 128 else KEY_OTHER
    if n == 2 and buf[s] == 112 and buf[s + 1] == 117:  # pu
        return KEY_PU
    if n == 4:
        if _matches(buf, s, _DATA):
            return KEY_DATA
        if _matches(buf, s, _BIDS):
            return KEY_BIDS
        if _matches(buf, s, _ASKS):
            return KEY_ASKS
        return KEY_OTHER
    if n == 6 and _matches(buf, s, _STREAM):
        return KEY_STREAM
    if n == 12 and _matches(buf, s, _LID):
        return KEY_LID
    return KEY_OTHER


@jit_borrow
def _plain_string(buf, i, end):
    """A string without escapes at ``i`` (which holds '"'): (first byte, length, index after it), or -1 as the
    index when it has an escape or is not closed on the line."""
    s = i + 1
    j = s
    while j < end:
        c = buf[j]
        if c == 34:  # "
            return s, j - s, j + 1
        if c == 92:  # backslash: let json.loads decide what it means
            return s, 0, -1
        j += 1
    return s, 0, -1


@jit_borrow
def _int(buf, i, end):
    """A JSON integer at ``i``: (value, index after it), index -1 if it is not one that fits int64 (a fraction,
    an exponent, a leading zero: all left to the reference)."""
    negative = i < end and buf[i] == 45  # -
    if negative:
        i += 1
    if i >= end or not (48 <= buf[i] <= 57):
        return 0, -1
    if buf[i] == 48 and i + 1 < end and 48 <= buf[i + 1] <= 57:
        return 0, -1
    v = 0
    while i < end and 48 <= buf[i] <= 57:
        d = int(buf[i]) - 48
        if v > (_INT64_MAX - d) // 10:
            return 0, -1
        v = v * 10 + d
        i += 1
    if i < end and (buf[i] == 46 or buf[i] == 101 or buf[i] == 69):  # . e E
        return 0, -1
    return (-v if negative else v), i


@jit_borrow
def _decimal(buf, i, end):
    """A decimal string ("61837.63000000") at ``i``: (mantissa, decimals after trailing zeros, index after the
    closing quote); index -1 for anything else (the reference refuses it with its line) or for more than 18
    significant digits (the reference's Python integers have no limit)."""
    if i >= end or buf[i] != 34:
        return 0, 0, -1
    j = i + 1
    v = 0
    significant = 0
    while j < end and 48 <= buf[j] <= 57:
        v = v * 10 + (int(buf[j]) - 48)
        if v > 0:
            significant += 1
            if significant > 18:
                return 0, 0, -1
        j += 1
    if j == i + 1:
        return 0, 0, -1
    mantissa = v
    decimals = 0
    if j < end and buf[j] == 46:  # .
        j += 1
        k = 0
        while j < end and 48 <= buf[j] <= 57:
            d = int(buf[j]) - 48
            v = v * 10 + d
            k += 1
            if v > 0:
                significant += 1
                if significant > 18:
                    return 0, 0, -1
            if d != 0:  # trailing zeros do not count
                mantissa = v
                decimals = k
            j += 1
    if j >= end or buf[j] != 34:
        return 0, 0, -1
    return mantissa, decimals, j + 1


@jit_borrow
def _skip_string(buf, i, end):
    """Any valid JSON string at ``i``, escapes included: the index after it, or -1."""
    j = i + 1
    while j < end:
        c = buf[j]
        if c == 34:
            return j + 1
        if c == 92:
            if j + 1 >= end:
                return -1
            e = buf[j + 1]
            if e == 117:  # \uXXXX
                if j + 5 >= end:
                    return -1
                for k in range(j + 2, j + 6):
                    h = buf[k]
                    if not (48 <= h <= 57 or 65 <= h <= 70 or 97 <= h <= 102):
                        return -1
                j += 6
                continue
            if e in (34, 92, 47, 98, 102, 110, 114, 116):
                j += 2
                continue
            return -1
        j += 1
    return -1


@jit_borrow
def _skip_number(buf, i, end):
    j = i
    if j < end and buf[j] == 45:
        j += 1
    if j >= end or not (48 <= buf[j] <= 57):
        return -1
    if buf[j] == 48:
        j += 1
    else:
        while j < end and 48 <= buf[j] <= 57:
            j += 1
    if j < end and buf[j] == 46:
        j += 1
        if j >= end or not (48 <= buf[j] <= 57):
            return -1
        while j < end and 48 <= buf[j] <= 57:
            j += 1
    if j < end and (buf[j] == 101 or buf[j] == 69):
        j += 1
        if j < end and (buf[j] == 43 or buf[j] == 45):
            j += 1
        if j >= end or not (48 <= buf[j] <= 57):
            return -1
        while j < end and 48 <= buf[j] <= 57:
            j += 1
    return j


@jit_borrow
def _skip_scalar(buf, i, end):
    c = buf[i]
    if c == 34:
        return _skip_string(buf, i, end)
    if c == 116:
        return i + 4 if _matches(buf, i, _TRUE) and i + 4 <= end else -1
    if c == 102:
        return i + 5 if _matches(buf, i, _FALSE) and i + 5 <= end else -1
    if c == 110:
        return i + 4 if _matches(buf, i, _NULL) and i + 4 <= end else -1
    return _skip_number(buf, i, end)  # NaN and Infinity, which json.loads takes, are left to it


@jit_borrow
def _skip_value(buf, i, end, stack):
    """Validate and step over any JSON value at ``i`` (nesting up to ``stack.size``): the index after it, or -1."""
    depth = 0
    expect_value = True
    while True:
        i = _ws(buf, i, end)
        if i >= end:
            return -1
        if expect_value:
            c = buf[i]
            if c == 123 or c == 91:  # { [
                if depth == stack.size:
                    return -1
                stack[depth] = c
                depth += 1
                i = _ws(buf, i + 1, end)
                if i >= end:
                    return -1
                if buf[i] == (125 if c == 123 else 93):  # empty container
                    depth -= 1
                    i += 1
                elif c == 123:
                    if buf[i] != 34:
                        return -1
                    i = _skip_string(buf, i, end)
                    if i < 0:
                        return -1
                    i = _ws(buf, i, end)
                    if i >= end or buf[i] != 58:  # :
                        return -1
                    i += 1
                    continue
                else:
                    continue
            else:
                i = _skip_scalar(buf, i, end)
                if i < 0:
                    return -1
            expect_value = False
        if depth == 0:
            return i
        i = _ws(buf, i, end)
        if i >= end:
            return -1
        c = buf[i]
        top = stack[depth - 1]
        if c == 44:  # ,
            i = _ws(buf, i + 1, end)
            if top == 123:
                if i >= end or buf[i] != 34:
                    return -1
                i = _skip_string(buf, i, end)
                if i < 0:
                    return -1
                i = _ws(buf, i, end)
                if i >= end or buf[i] != 58:
                    return -1
                i += 1
            expect_value = True
        elif (c == 93 and top == 91) or (c == 125 and top == 123):
            depth -= 1
            i += 1
        else:
            return -1


@jit_borrow
def _decimal_then(buf, i, end, closer):
    """Whitespace, a decimal string, whitespace and the byte ``closer`` from ``i``: (mantissa, decimals,
    index of ``closer``), index -1 otherwise."""
    m, d, i = _decimal(buf, _ws(buf, i, end), end)
    if i < 0:
        return 0, 0, -1
    i = _ws(buf, i, end)
    if i >= end or buf[i] != closer:
        return 0, 0, -1
    return m, d, i


@jit_borrow
def _levels(buf, i, end, vals, vrow, msg, side):
    """A list of [price, quantity] decimal-string pairs at ``i`` into ``vals`` from row ``vrow``:
    (index after it, next free row); index -1 if it is anything else."""
    if buf[i] != 91:
        return -1, vrow
    i = _ws(buf, i + 1, end)
    if i < end and buf[i] == 93:
        return i + 1, vrow
    while True:
        if i >= end or buf[i] != 91:
            return -1, vrow
        pm, pd, i = _decimal_then(buf, i + 1, end, 44)  # the price, then ','
        if i < 0:
            return -1, vrow
        qm, qd, i = _decimal_then(buf, i + 1, end, 93)  # the quantity, then ']'
        if i < 0 or vrow >= vals.shape[0]:
            return -1, vrow
        vals[vrow, V_MSG] = msg
        vals[vrow, V_SIDE] = side
        vals[vrow, V_P_M] = pm
        vals[vrow, V_P_D] = pd
        vals[vrow, V_Q_M] = qm
        vals[vrow, V_Q_D] = qd
        vrow += 1
        i = _ws(buf, i + 1, end)
        if i >= end:
            return -1, vrow
        if buf[i] == 93:
            return i + 1, vrow
        if buf[i] != 44:
            return -1, vrow
        i = _ws(buf, i + 1, end)


@jit_borrow
def _upper(c):
    return c - 32 if 97 <= c <= 122 else c


@jit_borrow
def _member_key(buf, i, end):
    """An object member's key at ``i``: (key code, index of its value); index -1 if it is not a plain key
    followed by ':' and a value on the line."""
    if i >= end or buf[i] != 34:
        return KEY_OTHER, -1
    ks, kn, i = _plain_string(buf, i, end)
    if i < 0:
        return KEY_OTHER, -1
    key = _key_code(buf, ks, kn)
    i = _ws(buf, i, end)
    if i >= end or buf[i] != 58:
        return key, -1
    i = _ws(buf, i + 1, end)
    if i >= end:
        return key, -1
    return key, i


@jit_borrow
def _after_member(buf, i, end):
    """After a member's value at ``i``: (index of the next key, False) after ',', (index after '}', True) at the
    object's end; index -1 for anything else."""
    if i < 0:
        return -1, False
    i = _ws(buf, i, end)
    if i >= end:
        return -1, False
    if buf[i] == 44:
        return _ws(buf, i + 1, end), False
    if buf[i] == 125:
        return i + 1, True
    return -1, False


@jit_borrow
def _parse_line(buf, i, end, row, msgs, vals, vrow, stack, sym):
    """The JSON object of one line into ``msgs[row]`` and its levels into ``vals`` from ``vrow``.
    ``sym`` holds (start, length) of the capture's symbol once seen (start -1 before).
    Returns (ok, next free level row)."""
    v0 = vrow
    for c in range(C_E, N_COLS):
        msgs[row, c] = MISSING
    has_stream = False
    stream_s = 0
    stream_n = 0
    data_seen = False
    lid = MISSING
    top_e = MISSING
    top_t = MISSING
    sym_s = -1
    sym_n = 0
    b_kind = 0  # 0 absent, 1 levels, 2 decimal string, 3 integer
    a_kind = 0
    a_int = MISSING
    maker = MISSING
    seen = 0  # bit per key code: each key the importer reads may appear once
    if i >= end or buf[i] != 123:
        return False, v0
    i = _ws(buf, i + 1, end)
    if i >= end or buf[i] == 125:
        return False, v0
    while True:
        key, i = _member_key(buf, i, end)
        if i < 0:
            return False, v0
        if key != KEY_OTHER:
            if seen & (1 << key):  # json.loads keeps the last of two equal keys: leave that to it
                return False, v0
            seen |= 1 << key
        if key == KEY_STREAM:
            if buf[i] != 34:
                return False, v0
            stream_s, stream_n, i = _plain_string(buf, i, end)
            has_stream = True
        elif key == KEY_DATA:
            if buf[i] != 123:
                return False, v0
            data_seen = True
            # the data object: the fields of a depth diff, trade or book ticker
            i = _ws(buf, i + 1, end)
            if i < end and buf[i] == 125:
                i += 1
            else:
                dseen = 0
                while True:
                    dkey, i = _member_key(buf, i, end)
                    if i < 0:
                        return False, v0
                    if dkey != KEY_OTHER:
                        if dseen & (1 << dkey):
                            return False, v0
                        dseen |= 1 << dkey
                    if dkey == KEY_S:
                        if buf[i] != 34:
                            return False, v0
                        sym_s, sym_n, i = _plain_string(buf, i, end)
                    elif dkey in (KEY_E, KEY_T, KEY_U, KEY_LU, KEY_PU, KEY_TID):
                        value, i = _int(buf, i, end)
                        col = (C_E if dkey == KEY_E else C_T if dkey == KEY_T else C_U if dkey == KEY_U else
                               C_LU if dkey == KEY_LU else C_PU if dkey == KEY_PU else C_TID)
                        msgs[row, col] = value
                        if dkey == KEY_PU:
                            msgs[row, C_HAS_PU] = 1
                    elif dkey == KEY_M:
                        if _matches(buf, i, _TRUE) and i + 4 <= end:
                            maker = 1
                            i += 4
                        elif _matches(buf, i, _FALSE) and i + 5 <= end:
                            maker = 0
                            i += 5
                        else:
                            return False, v0
                    elif dkey == KEY_P or dkey == KEY_Q or dkey == KEY_BQ or dkey == KEY_AQ:
                        m, d, i = _decimal(buf, i, end)
                        col = (C_P_M if dkey == KEY_P else C_Q_M if dkey == KEY_Q else C_BQ_M if dkey == KEY_BQ
                               else C_AQ_M)
                        msgs[row, col] = m
                        msgs[row, col + 1] = d
                    elif dkey == KEY_B or dkey == KEY_A:
                        c = buf[i]
                        if c == 91:
                            i, vrow = _levels(buf, i, end, vals, vrow, row, 0 if dkey == KEY_B else 1)
                            kind_here = 1
                        elif c == 34:
                            m, d, i = _decimal(buf, i, end)
                            col = C_BB_M if dkey == KEY_B else C_AA_M
                            msgs[row, col] = m
                            msgs[row, col + 1] = d
                            kind_here = 2
                        elif dkey == KEY_A:  # an aggTrade's id
                            a_int, i = _int(buf, i, end)
                            kind_here = 3
                        else:
                            return False, v0
                        if dkey == KEY_B:
                            b_kind = kind_here
                        else:
                            a_kind = kind_here
                    elif dkey == KEY_OTHER:
                        i = _skip_value(buf, i, end, stack)
                    else:  # bids, asks, stream, data, lastUpdateId inside data: not a shape Binance sends
                        return False, v0
                    i, done = _after_member(buf, i, end)
                    if i < 0:
                        return False, v0
                    if done:
                        break
        elif key == KEY_LID:
            lid, i = _int(buf, i, end)
        elif key == KEY_E:
            top_e, i = _int(buf, i, end)
        elif key == KEY_T:
            top_t, i = _int(buf, i, end)
        elif key == KEY_BIDS or key == KEY_ASKS:
            i, vrow = _levels(buf, i, end, vals, vrow, row, 2 if key == KEY_BIDS else 3)
        elif key == KEY_OTHER:
            i = _skip_value(buf, i, end, stack)
        else:  # a depth or trade field outside data
            return False, v0
        i, done = _after_member(buf, i, end)
        if i < 0:
            return False, v0
        if done:
            break
    if _ws(buf, i, end) != end:  # json.loads: extra data
        return False, v0

    if has_stream:
        if not data_seen:
            return False, v0
        kind = K_IGNORED
        for k in range(stream_n - _AT_DEPTH.size + 1):
            if _matches(buf, stream_s + k, _AT_DEPTH):
                kind = K_DEPTH
                break
        if kind == K_IGNORED:
            tail = stream_s + stream_n
            if _matches(buf, tail - _AT_TRADE.size, _AT_TRADE) and stream_n >= _AT_TRADE.size:
                kind = K_TRADE
            elif _matches(buf, tail - _AT_AGGTRADE.size, _AT_AGGTRADE) and stream_n >= _AT_AGGTRADE.size:
                kind = K_TRADE
            elif _matches(buf, tail - _AT_BOOKTICKER.size, _AT_BOOKTICKER) and stream_n >= _AT_BOOKTICKER.size:
                kind = K_BBO
        msgs[row, C_KIND] = kind
        if kind == K_IGNORED:
            return True, v0
        if sym_s < 0:
            return False, v0
        if sym[0] < 0:
            sym[0] = sym_s
            sym[1] = sym_n
        else:
            if sym_n != sym[1]:
                return False, v0
            for k in range(sym_n):
                if _upper(buf[sym_s + k]) != _upper(buf[sym[0] + k]):
                    return False, v0
        keep_lo, keep_hi = 0, 1  # the sides of the data object's b/a lists
        if kind == K_DEPTH:
            if b_kind > 1 or a_kind > 1 or msgs[row, C_U] == MISSING or msgs[row, C_LU] == MISSING:
                return False, v0
        elif kind == K_TRADE:
            if msgs[row, C_P_M] == MISSING or msgs[row, C_Q_M] == MISSING:
                return False, v0
            if msgs[row, C_TID] == MISSING:
                if a_kind == 3:
                    msgs[row, C_TID] = a_int
                elif a_kind != 0:  # an id that is not an integer
                    return False, v0
            msgs[row, C_MAKER] = 1 if maker == 1 else 0
            keep_lo, keep_hi = 9, 9  # no levels
        else:
            if b_kind != 2 or a_kind != 2 or msgs[row, C_BQ_M] == MISSING or msgs[row, C_AQ_M] == MISSING:
                return False, v0
            keep_lo, keep_hi = 9, 9
    elif seen & (1 << KEY_LID):
        if lid == MISSING:
            return False, v0
        kind = K_SNAPSHOT
        msgs[row, C_KIND] = kind
        msgs[row, C_LID] = lid
        msgs[row, C_E] = top_e
        msgs[row, C_T] = top_t
        keep_lo, keep_hi = 2, 3  # the snapshot's bids/asks; a "data" member is not read
    else:
        return False, v0
    # keep the level rows the kind reads, as sides 0/1
    w = v0
    for r in range(v0, vrow):
        s = vals[r, V_SIDE]
        if keep_lo <= s <= keep_hi:
            for c in range(N_VCOLS):
                vals[w, c] = vals[r, c]
            vals[w, V_SIDE] = s - keep_lo
            w += 1
    return True, w


@jit_borrow
def scan(buf, first_line, msgs, vals, sym, stack):
    """Scan the complete lines of ``buf`` (each ends with a newline, the last one may not).

    ``first_line``: the file's line number of the first line here. Writes one row of ``msgs`` per non-blank
    line and the levels to ``vals``. Returns (messages, level rows, lines read, line number of the first line
    the scanner cannot read exactly, 0 if none). ``sym`` (int64[2]) is the symbol's (start, length) in ``buf``,
    start -1 until a message names one. ``stack`` (uint8) is scratch for nested values: its size is the deepest
    nesting read."""
    row = 0
    vrow = 0
    line = first_line - 1
    pos = 0
    n = buf.size
    while pos < n:
        line += 1
        eol = pos  # the caller has checked (count_bytes) that the lines hold no byte Python decodes otherwise
        while eol < n and buf[eol] != 10:
            eol += 1
        nxt = eol + 1
        s = pos
        e = eol
        while s < e and (buf[s] == 32 or buf[s] == 9):
            s += 1
        while e > s and (buf[e - 1] == 32 or buf[e - 1] == 9):
            e -= 1
        pos = nxt
        if s == e:
            continue
        local, j = _int(buf, s, e)
        if j < 0 or j >= e or buf[j] != 32:
            return row, vrow, line - first_line + 1, line
        if row >= msgs.shape[0]:
            return row, vrow, line - first_line + 1, line
        ok, vrow = _parse_line(buf, _ws(buf, j + 1, e), e, row, msgs, vals, vrow, stack, sym)
        if not ok:
            return row, vrow, line - first_line + 1, line
        msgs[row, C_LOCAL] = local
        row += 1
    return row, vrow, line - first_line + 1, 0
