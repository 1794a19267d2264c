"""A compiled domain behind the Model Context Protocol (`envscale mcp`).

`catalog` lists the tools a client is offered, from the compiled schemas; `sessions` keeps
one environment per client session; `server` (which imports the MCP SDK, an optional
dependency, and is imported only when a server runs) answers the protocol over stdio or
streamable HTTP.
"""
