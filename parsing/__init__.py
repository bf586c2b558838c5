"""Reading logged values the way the systems that wrote them mean them.

- ``commandline``: how Windows reads a command line (argv, cmd.exe, PowerShell).
- ``normalize``: one schema event in its canonical reading, the one layer every rule reads.
- ``urls``: URLs and DNS names as a client resolves them.
- ``timestamps``: the one timestamp parser and formatter.
- ``registry``: a registry value path in one form, and what Windows makes of a value written there.
"""
