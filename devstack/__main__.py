"""`python -m devstack up|infra|services|down|stop-services|clean|status`."""

from __future__ import annotations

import sys

from devstack import stack
from devstack.paths import StackConfig
from devstack.procs import StartError

USAGE = """usage: python -m devstack COMMAND
  infra          start Kafka and FerretDB (installing them on first use), create topics
  up             infra, then the Zalo simulator and every service; wait until all are ready
  services       start the simulator and services only (infra must run)
  stop-services  stop the simulator and services, keep Kafka and FerretDB
  down           stop everything
  clean          stop everything and delete the run folder (.run/)
  status         which processes run
"""


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    cfg = StackConfig.from_env()
    cmd = args[0] if args else ""
    try:
        if cmd == "infra":
            stack.infra_up(cfg)
            print(f"infrastructure ready: kafka {cfg.kafka_bootstrap}, mongodb {cfg.mongo_uri}")
        elif cmd == "up":
            stack.infra_up(cfg)
            started = stack.services_up(cfg)
            layout = stack.Layout()
            print(f"infrastructure ready: kafka {cfg.kafka_bootstrap}, mongodb {cfg.mongo_uri}")
            for name in started:
                print(f"  {name:16} {layout.url(name)}")
            print("Chat as a citizen: make chat    Stop: make stop    Logs: .run/logs/")
        elif cmd == "services":
            for name in stack.services_up(cfg):
                print(f"  {name:16} {stack.Layout().url(name)}")
        elif cmd == "stop-services":
            stack.services_down(cfg)
        elif cmd == "down":
            stack.down(cfg)
        elif cmd == "clean":
            stack.clean(cfg)
        elif cmd == "status":
            stack.print_status(cfg)
        else:
            print(USAGE, file=sys.stderr)
            return 2
    except StartError as exc:
        print(f"devstack: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
