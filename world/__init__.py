"""The world OpenSOC simulates: its inventory of hosts, users, groups and services, and the ATT&CK techniques it names.

- ``inventory``: subnets, hosts, users, groups and the known-good outside services; the context an analyst has.
- ``attack``: the MITRE ATT&CK techniques OpenSOC references, checked offline.
"""
