"""Mutations of the tutorial scripts in examples/, as a hostile or careless user writes them.

`mutate(source, rng)` applies one to three edits and returns the new text and a description
of each edit: numbers swapped for strings / NaN / inf / huge or negative numbers / C
fragments, strings swapped for long names, unicode or C fragments, lines deleted, duplicated
or swapped, deep nesting, runaway arithmetic, stray bytes.
"""
import re

NUMBER = re.compile(r"(?<![\w.])(\d+\.\d*|\d*\.\d+|\d+)(e-?\d+)?(?![\w.])")
STRING = re.compile(r"'[^'\n]*'|\"[^\"\n]*\"")

NUMBER_REPLACEMENTS = [
    '"64"', "'1e-3'", "float('nan')", "float('inf')", "-float('inf')", "1e999", "10**30", "2**31", "2**63",
    "-1", "0", "-0.5", "0.0", "1e-45", "True", "None", "[1, 2]", "(3,)", "1j", "{}", "...",
    "'*/ #include </etc/passwd>'", "'1); system(\"id\"); (void)(1'", "'\\n#error x\\n'", "'%s%n%x'",
    "'\\udcff'", "'ünï'", "\"a\" * 10**6", "10**10**3", "3.5", "1e308 * 10",
]
STRING_REPLACEMENTS = [
    "'x'", "''", "'relu*/'", "'*/ #error injected'", "'\\\"); system(\"id\"); //'", "'fc'", "'FC'",
    "'a' * 5000", "'n' * 300", "'ünïcödé_名前'", "'\\x00'", "'\\udcff'", "'../../etc/passwd'", "None", "3",
    "'sparse_categorical_crossentropy'", "'accuracy'", "'softmax'", "'mse'", "'adam'", "'same'", "'valid'",
]
INSERTED_LINES = [
    "n = 2\nfor i in range(64):\n    n = n * n\n",
    "x = 10 ** 10 ** 10\n",
    "s = 'a' * 10 ** 12\n",
    "model.add(Dense(10 ** 9))\n",
    "model.add(Dense(4, name='dense'))\n",
    "model.add(Dense(4, name=3))\n",
    "model.add(Dense(4, name='a' * 5000))\n",
    "import os; os.system('id')\n",
    "exec('print(1)')\n",
    "model = None\n",
    "del model\n",
    "model.compile(loss='mse', optimizer='sgd')\n",
    "model.add(model)\n",
    "Dense = None\n",
    "from keras.layers import *\n",
    "def f(x):\n    return f(x)\nf(1)\n",
    "\x00\n",
    "# \udcff\n",
    "lambda: (" * 40 + "1" + ")" * 40 + "\n",
]


def _sub_nth(pattern, text, rng, replacement):
    matches = list(pattern.finditer(text))
    if not matches:
        return text, None
    m = matches[rng.randrange(len(matches))]
    return text[:m.start()] + replacement + text[m.end():], f"{m.group(0)!r} -> {replacement!r}"


def _lines(text):
    return text.splitlines(keepends=True)


def swap_number(text, rng):
    return _sub_nth(NUMBER, text, rng, rng.choice(NUMBER_REPLACEMENTS))


def swap_string(text, rng):
    return _sub_nth(STRING, text, rng, rng.choice(STRING_REPLACEMENTS))


def nest_number(text, rng):
    depth = rng.choice([50, 200, 1000, 5000])
    form = rng.choice(["(" * depth + "1" + ")" * depth, "-" * depth + "1", "+".join(["1"] * depth),
                       "[" * depth + "1" + "]" * depth, "not " * depth + "1"])
    return _sub_nth(NUMBER, text, rng, form)


def delete_line(text, rng):
    lines = _lines(text)
    i = rng.randrange(len(lines))
    return "".join(lines[:i] + lines[i + 1:]), f"delete line {i + 1}"


def duplicate_line(text, rng):
    lines = _lines(text)
    i = rng.randrange(len(lines))
    return "".join(lines[:i + 1] + lines[i:]), f"duplicate line {i + 1}"


def swap_lines(text, rng):
    lines = _lines(text)
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    lines[i], lines[j] = lines[j], lines[i]
    return "".join(lines), f"swap lines {i + 1} and {j + 1}"


def insert_line(text, rng):
    lines = _lines(text)
    i = rng.randrange(len(lines) + 1)
    new = rng.choice(INSERTED_LINES)
    return "".join(lines[:i] + [new] + lines[i:]), f"insert {new!r} at line {i + 1}"


def rename(text, rng):
    name = rng.choice(["m" * 3000, "模型", "_", "model2", "keras", "np", "Sequential"])
    return text.replace("model", name), f"rename model -> {name[:20]!r}"


def stray_text(text, rng):
    at = rng.randrange(len(text) + 1)
    junk = rng.choice(["(", ")", ":", "\t", "\\", "'", '"""', "\ufeff", "\u202e", "é", "\x0c", "**", "@"])
    return text[:at] + junk + text[at:], f"insert {junk!r} at offset {at}"


MUTATORS = [swap_number, swap_number, swap_number, swap_string, swap_string, nest_number, delete_line,
            duplicate_line, swap_lines, insert_line, insert_line, rename, stray_text]


def mutate(source, rng):
    edits = []
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        mutator = rng.choice(MUTATORS)
        new, what = mutator(source, rng)
        if what is not None:
            source = new
            edits.append(f"{mutator.__name__}: {what}")
    return source, edits
