#!/usr/bin/env python3
"""Reads the scheduler recipes of docs/examples the way their schedulers do,
for scheduler_recipes.sh, which runs what this prints.

  recipes.py crontab FILE ROOT
      Parses a crontab as cron does (crontab(5)): blank lines and # lines
      are skipped, NAME=VALUE lines set the environment of the commands,
      other lines are five time fields and a command.  In the command a %
      not escaped by a backslash ends the command, the rest becoming its
      standard input with every further unescaped % a newline, and \\%
      becomes %.  Writes env.sh (the assignments, shell-quoted, absolute
      paths other than /bin and /usr/bin moved under ROOT so the job runs in
      a scratch tree), and for the N-th entry jobN.schedule, jobN.cmd and
      jobN.stdin.

  recipes.py airflow FILE DS KEY=VALUE...
      Parses an Airflow DAG file with the ast module (Airflow itself is not
      installed), finds the params of its DAG(...) and every
      BashOperator(...), and renders each bash_command with Jinja2 the way
      Airflow does: StrictUndefined (Airflow's default, so a template name
      it would not know is an error here too), ds and ds_nodash of the
      logical date DS, and params, where KEY=VALUE overrides a DAG param as
      a run's conf does.  Writes TASK.cmd, TASK.skip (the exit codes of
      skip_on_exit_code, one per line; Airflow's default is 99) and
      TASK.retries for every task, and tasks (their ids, in order).
"""
import ast
import datetime
import os
import re
import shlex
import sys


def crontab(path, root):
    env, jobs = [], []
    for lineno, line in enumerate(open(path, encoding="utf-8"), 1):
        line = line.rstrip("\n")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = re.match(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$", line)
        if m:
            name, value = m.group(1), m.group(2)
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            env.append((name, value))
            continue
        fields = line.split(None, 5)
        if len(fields) < 6:
            sys.exit(f"{path}:{lineno}: neither an assignment nor five time fields and a command")
        jobs.append((" ".join(fields[:5]), fields[5]))

    def move(value):
        # absolute paths other than the system's own go under the scratch root
        parts = []
        for p in value.split(":"):
            if p.startswith("/") and p not in ("/bin", "/usr/bin", "/bin/sh", "/bin/bash"):
                p = root + p
            parts.append(p)
        return ":".join(parts)

    with open("env.sh", "w") as f:
        for name, value in env:
            f.write(f"{name}={shlex.quote(move(value) if name != 'MAILTO' else value)}\n")
    for n, (schedule, text) in enumerate(jobs, 1):
        cmd, stdin, escaped, in_stdin = [], [], False, False
        for ch in text:
            if escaped:
                escaped = False
                if ch != "%":
                    (stdin if in_stdin else cmd).append("\\")
                (stdin if in_stdin else cmd).append(ch)
            elif ch == "\\":
                escaped = True
            elif ch == "%":
                if in_stdin:
                    stdin.append("\n")
                in_stdin = True
            else:
                (stdin if in_stdin else cmd).append(ch)
        if escaped:
            (stdin if in_stdin else cmd).append("\\")
        open(f"job{n}.schedule", "w").write(schedule + "\n")
        open(f"job{n}.cmd", "w").write("".join(cmd))
        open(f"job{n}.stdin", "w").write("".join(stdin) + ("\n" if in_stdin else ""))


def call_name(node):
    f = node.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None


def airflow(path, ds, overrides):
    import jinja2

    tree = ast.parse(open(path, encoding="utf-8").read(), path)
    params, tasks = {}, []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        kw = {k.arg: k.value for k in node.keywords if k.arg}
        if call_name(node) == "DAG" and "params" in kw:
            params = ast.literal_eval(kw["params"])
        elif call_name(node) == "BashOperator":
            tasks.append((node.lineno, kw))
    if not tasks:
        sys.exit(f"{path}: no BashOperator")
    for kv in overrides:
        k, v = kv.split("=", 1)
        if k not in params:
            sys.exit(f"{path}: the DAG has no param {k}")
        params[k] = v
    day = datetime.date.fromisoformat(ds)
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    names = []
    for lineno, kw in sorted(tasks, key=lambda t: t[0]):
        task_id = ast.literal_eval(kw["task_id"])
        template = ast.literal_eval(kw["bash_command"])
        cmd = env.from_string(template).render(ds=day.isoformat(), ds_nodash=day.strftime("%Y%m%d"), params=params)
        skip = ast.literal_eval(kw["skip_on_exit_code"]) if "skip_on_exit_code" in kw else 99
        skip = [] if skip is None else [skip] if isinstance(skip, int) else list(skip)
        retries = ast.literal_eval(kw["retries"]) if "retries" in kw else 0
        open(f"{task_id}.cmd", "w").write(cmd)
        open(f"{task_id}.skip", "w").write("".join(f"{c}\n" for c in skip))
        open(f"{task_id}.retries", "w").write(f"{retries}\n")
        names.append(task_id)
    open("tasks", "w").write("".join(n + "\n" for n in names))


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "crontab":
        crontab(sys.argv[2], os.path.abspath(sys.argv[3]))
    elif len(sys.argv) >= 4 and sys.argv[1] == "airflow":
        airflow(sys.argv[2], sys.argv[3], sys.argv[4:])
    else:
        sys.exit(__doc__)
