"""A caller of the sandbox in a process of its own, for the containment tests: reads a job
({"program", "tests", "entry_point", "limits", "isolation"}) on stdin, runs it (with a leased
uid when it can switch uids) and prints {"result": RunResult as a dict, "uid": the run's uid}.

Run with the caller's secrets in its environment from its start, so that a program reading
/proc/<pid>/environ of its ancestors would find them; run as root or as an unprivileged user.
Imports only `lbt.sandbox` (standard library only), so the system's python3 can run it.
"""

import json
import sys

from lbt.sandbox import Limits, run_program
from lbt.sandbox.isolation import can_switch_uid, lease_uid


def main() -> None:
    job = json.loads(sys.stdin.read())
    lease = lease_uid() if can_switch_uid() else None
    uid = lease.uid if lease else None
    try:
        result = run_program(job["program"], job["tests"], job["entry_point"], Limits(**job["limits"]), uid,
                             job["isolation"])
    finally:
        if lease is not None:
            lease.release()
    print(json.dumps({"result": result.to_dict(), "uid": uid}))


if __name__ == "__main__":
    main()
