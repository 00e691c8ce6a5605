"""The child side of a sandbox run: isolate this process, drop privileges, run the program and
its tests one at a time, and report each outcome as a JSON line on an inherited pipe (`report_fd`).

Run as a script by the parent (`python -I -S runner.py`, stdlib only, nothing imported from
`lbt`), with the job as one JSON object on stdin: {"program", "tests", "entry_point",
"limits", "uid", "workdir", "nonce", "report_fd", "python_path", "bubblewrap"}. Steps, in order:

1. a private network namespace: bubblewrap's (`bubblewrap` true, see bubblewrap.py), else its
   own (`unshare(CLONE_NEWNET)`, as root: only a down loopback); then resource limits
   (address space, CPU seconds, processes, file size, no core files), then the job's
   unprivileged uid/gid with no supplementary groups (when `uid` is given);
2. stdin is /dev/null; `HOME`/`TMPDIR` are the throwaway working directory;
3. the program is compiled (`syntax_error`) and run (`exception: ...`, `exit`, `memory`);
   `candidate` is bound to the entry point (`missing_entry_point`);
4. each test snippet runs in the program's namespace; a snippet holding an `assert` is a
   test (pass or fail), any other snippet is setup (its failure fails the tests after it);
5. every process of the uid (or, under bubblewrap, of the run's pid namespace) but this one
   is killed (`kill(-1, SIGKILL)`), then "done".

Report lines carry the job's nonce so that a program printing look-alike lines on its own
stdout is not believed; a program that goes out of its way to forge its own results on the report pipe
can (it runs in this interpreter, as in HumanEval's harness): the sandbox contains damage, it
does not make scores tamper-proof.
"""

import ast
import ctypes
import json
import os
import resource
import signal
import sys

CLONE_NEWNET = 0x40000000
MESSAGE_CHARS = 300


def report(nonce, **event):
    os.write(REPORT_FD, (json.dumps({"nonce": nonce, **event}) + "\n").encode())


REPORT_FD = -1  # set from the job: the inherited write end of the report pipe


def isolate_network():
    """True when this process now has a private network namespace (needs CAP_SYS_ADMIN)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.unshare(CLONE_NEWNET) == 0
    except OSError:
        return False


def set_limits(limits):
    cpu = int(limits["cpu_s"])
    memory = int(limits["memory_mb"]) << 20
    files = int(limits["file_mb"]) << 20
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (files, files))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
    if limits.get("max_procs") is not None:  # per uid: only meaningful for a uid of the run's own
        resource.setrlimit(resource.RLIMIT_NPROC, (int(limits["max_procs"]), int(limits["max_procs"])))


def drop_privileges(uid):
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)


def flush_output():
    """What the program printed, out before `os._exit` (which would drop Python's buffers)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # closed, or its reader gone
            pass


def kill_the_rest():
    """Kill every other process of this uid, or of bubblewrap's pid namespace (but its init):
    what the program started (there may be none left: ESRCH)."""
    try:
        os.kill(-1, signal.SIGKILL)
    except ProcessLookupError:
        pass


def describe(error):
    """The reason a run failed because of `error` (an exception raised by program or test)."""
    if isinstance(error, MemoryError):
        return "memory"
    if isinstance(error, SystemExit):
        return "exit"
    if isinstance(error, RecursionError):
        return "exception: RecursionError"
    if isinstance(error, AssertionError):
        return "assertion"
    message = str(error).replace("\n", " ")[:MESSAGE_CHARS]
    return f"exception: {type(error).__name__}: {message}" if message else f"exception: {type(error).__name__}"


def is_test(snippet):
    """A snippet that holds an `assert` is a test; any other is setup (unparsable: a test)."""
    try:
        tree = ast.parse(snippet)
    except SyntaxError:
        return True
    return any(isinstance(node, ast.Assert) for node in ast.walk(tree))


def run_program(nonce, program, namespace):
    try:
        code = compile(program, "solution.py", "exec")
    except (SyntaxError, ValueError) as error:
        report(nonce, event="program", ok=False, reason="syntax_error", message=str(error)[:MESSAGE_CHARS])
        return False
    try:
        exec(code, namespace)
    except BaseException as error:  # the program's own failure, recorded
        report(nonce, event="program", ok=False, reason=describe(error))
        return False
    report(nonce, event="program", ok=True)
    return True


def bind_entry_point(nonce, entry_point, namespace):
    if not entry_point:
        return True
    try:
        namespace["candidate"] = eval(entry_point, namespace)
    except BaseException as error:  # NameError, AttributeError, or the constructor's failure
        report(nonce, event="entry_point", ok=False, reason="missing_entry_point", message=describe(error))
        return False
    return True


def run_tests(nonce, tests, namespace):
    setup_failed = None
    for index, snippet in enumerate(tests):
        test = is_test(snippet)
        if setup_failed is not None:
            if test:
                report(nonce, event="test", index=index, ok=False, reason=setup_failed)
            continue
        try:
            exec(compile(snippet, f"test_{index}", "exec"), namespace)
            ok, reason = True, None
        except BaseException as error:
            ok, reason = False, describe(error)
        if test:
            report(nonce, event="test", index=index, ok=ok, reason=reason)
        elif not ok:
            setup_failed = f"test setup failed: {reason}"


def main():
    global REPORT_FD
    job = json.loads(sys.stdin.read())
    REPORT_FD = int(job["report_fd"])
    nonce = job.pop("nonce")
    network_isolated = bool(job.get("bubblewrap")) or isolate_network()
    set_limits(job["limits"])
    if job.get("uid") is not None:
        drop_privileges(job["uid"])
    fd = os.open(os.devnull, os.O_RDONLY)
    os.dup2(fd, 0)
    os.chdir(job["workdir"])
    sys.path.extend(job.get("python_path") or [])
    report(nonce, event="start", network_isolated=network_isolated, uid=os.getuid())
    namespace = {"__name__": "solution", "__builtins__": __builtins__}
    if run_program(nonce, job["program"], namespace) and bind_entry_point(nonce, job.get("entry_point"), namespace):
        run_tests(nonce, job["tests"], namespace)
    if job.get("uid") is not None or job.get("bubblewrap"):
        kill_the_rest()
    flush_output()
    report(nonce, event="done")
    os._exit(0)


if __name__ == "__main__":
    main()
