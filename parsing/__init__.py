"""Reading logged values the way the systems that wrote them mean them.

- ``commandline``: how Windows reads a command line (argv, cmd.exe, PowerShell).
- ``normalize``: one schema event in its canonical reading, the one layer every rule reads.
"""
