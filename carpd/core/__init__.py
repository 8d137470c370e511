"""The pure protocol core: no sockets, no asyncio, no clock. Imports the standard library only."""
