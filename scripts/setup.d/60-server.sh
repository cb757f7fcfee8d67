# server: the real npm clients the server tests drive (the official MCP
# TypeScript SDK and piston-client), pinned by package-lock.json.
if ! command -v npm >/dev/null 2>&1; then
	apt_install npm
fi
(cd server/testdata/clients && npm ci --no-audit --no-fund --loglevel=error)
