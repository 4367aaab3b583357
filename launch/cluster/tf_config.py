#!/usr/bin/env python3
r"""TF_CONFIG of every task of a cluster, from a host list (Python standard library only).

  python3 launch/cluster/tf_config.py --mode=multi_worker --hosts=h1,h2 [--port=2222]
  python3 launch/cluster/tf_config.py --mode=parameter_server --hostfile=hosts.txt --num_ps=1

Prints one line per task, tab-separated: TYPE, INDEX, HOST (where to start it), TF_CONFIG (JSON).
Used by launch_multi_worker.sh and launch_parameter_server.sh; see launch/README.md.

Roles, in host-list order:
  multi_worker       every host is a worker; worker 0 is the chief (writes checkpoints, results).
  parameter_server   host 1 is the chief (the coordinator that runs `fit`), the next --num_ps
                     hosts are parameter servers, the rest are workers (at least one).
A host is `name` or `name:port`. Without a port a task listens on --port; a name given several
times without a port gets --port, --port + 1, ... (several tasks on one machine).
"""
import argparse
import json
import sys
from typing import Dict, List, Tuple


class HostListError(ValueError):
  """The host list cannot make the requested cluster."""


def read_hosts(hosts: str = "", hostfile: str = "") -> List[str]:
  """Host entries from a comma list and/or a file (one per line, '#' comments, blanks ignored)."""
  entries = [h.strip() for h in hosts.split(",") if h.strip()] if hosts else []
  if hostfile:
    try:
      with open(hostfile) as f:
        lines = f.read().splitlines()
    except OSError as error:
      raise HostListError(f"--hostfile={hostfile!r} cannot be read: {error}") from None
    for line in lines:
      line = line.split("#", 1)[0].strip()
      entries.extend(h for h in line.replace(",", " ").split() if h)
  if not entries:
    raise HostListError("no hosts: give --hosts=h1,h2,... or --hostfile=FILE")
  return entries


def addresses(entries: List[str], base_port: int) -> List[Tuple[str, str]]:
  """(host, 'host:port') per entry; repeated port-less names get consecutive ports."""
  next_port: Dict[str, int] = {}
  result = []
  for entry in entries:
    if entry.count(":") == 1 and entry.rsplit(":", 1)[1].isdigit():
      host = entry.rsplit(":", 1)[0]
      result.append((host, entry))
      continue
    if ":" in entry:
      raise HostListError(f"host {entry!r} is invalid: expected NAME or NAME:PORT")
    port = next_port.get(entry, base_port)
    next_port[entry] = port + 1
    result.append((entry, f"{entry}:{port}"))
  seen = set()
  for _, address in result:
    if address in seen:
      raise HostListError(f"address {address} is used by two tasks")
    seen.add(address)
  return result


def cluster_tasks(mode: str, entries: List[str], base_port: int = 2222,
                  num_ps: int = 1) -> List[Tuple[str, int, str, Dict]]:
  """[(task type, index, host, TF_CONFIG dict)] for every task of the cluster."""
  hosts = addresses(entries, base_port)
  if mode == "multi_worker":
    jobs = {"worker": hosts}
  elif mode == "parameter_server":
    if num_ps < 1:
      raise HostListError(f"--num_ps={num_ps} is invalid: need at least one parameter server")
    if len(hosts) < num_ps + 2:
      raise HostListError(f"{len(hosts)} hosts cannot hold a chief, {num_ps} ps and at least one "
                          f"worker (need {num_ps + 2})")
    jobs = {"chief": hosts[:1], "ps": hosts[1:1 + num_ps], "worker": hosts[1 + num_ps:]}
  else:
    raise HostListError(f"--mode={mode!r} is invalid: choose multi_worker or parameter_server")
  cluster = {job: [address for _, address in members] for job, members in jobs.items()}
  tasks = []
  for job, members in jobs.items():
    for index, (host, _) in enumerate(members):
      tasks.append((job, index, host,
                    {"cluster": cluster, "task": {"type": job, "index": index}}))
  return tasks


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--mode", required=True, choices=["multi_worker", "parameter_server"])
  parser.add_argument("--hosts", default="", help="comma-separated NAME[:PORT] list")
  parser.add_argument("--hostfile", default="", help="file of NAME[:PORT], one or more a line")
  parser.add_argument("--port", type=int, default=2222, help="port of entries without one")
  parser.add_argument("--num_ps", type=int, default=1, help="parameter servers (parameter_server)")
  args = parser.parse_args(argv)
  try:
    tasks = cluster_tasks(args.mode, read_hosts(args.hosts, args.hostfile), args.port,
                          args.num_ps)
  except HostListError as error:
    print(f"error: {error}", file=sys.stderr)
    return 2
  for job, index, host, tf_config in tasks:
    print(f"{job}\t{index}\t{host}\t{json.dumps(tf_config, separators=(',', ':'))}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
