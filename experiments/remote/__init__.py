"""Multi-host runs over SSH (Fabric), as in the paper's Figure 2.

    invoke remote-run --inventory testbed.toml --name fig9 --quick

The inventory (inventory.py) names the hosts and their roles: a traffic
generator, a capture host and optionally a packet receiver (forwarding).
orchestrate.py drives a run: connect and check every host (root, Python,
libxdp for the xdp backend), install or update the project on each
(deploy.py), set up the test interfaces, start the capture side, start the
generator, wait, collect every host's counters and results into the local
results folder, and tear everything down, also on failure and Ctrl-C. The
commands on each host are those of agent.py, which prints JSON.

vhosts.py builds a testbed of SSH hosts on one machine (sshd in network
namespaces joined by a veth pair), which the tests and ``invoke
ssh-testbed-up`` use.
"""
