// toxiproxy_client.js -- drives muxd --api with the npm package
// toxiproxy-node-client (the client toxiproxy's Node users have), for
// test_api_node.py: one JSON request a line on stdin, one JSON answer a
// line on stdout ({"ok": RESULT} or {"error": MESSAGE}).
//
//   node toxiproxy_client.js MODULE_DIR API_URL
"use strict";
const readline = require("readline");
const { Toxiproxy } = require(process.argv[2]);

const toxiproxy = new Toxiproxy(process.argv[3]);

async function toxicOf(req) {
  const proxy = await toxiproxy.get(req.proxy);
  return proxy.getToxic(req.name);
}

// {name: proxy} as the client returns it, as a list sorted by name.
function sorted(proxies) {
  return Object.keys(proxies).sort().map((name) => proxies[name].toJson());
}

const ops = {
  version: async () => toxiproxy.getVersion(),
  // Proxies: POST /proxies, GET /proxies, GET, POST and DELETE
  // /proxies/{p}, POST /populate.
  create: async (req) => (await toxiproxy.createProxy(req.body)).toJson(),
  proxies: async () => sorted(await toxiproxy.getAll()),
  get: async (req) => (await toxiproxy.get(req.proxy)).toJson(),
  change: async (req) =>
    (await (await toxiproxy.get(req.proxy)).update(req.body)).toJson(),
  delete: async (req) => {
    await (await toxiproxy.get(req.proxy)).remove();
    return null;
  },
  populate: async (req) => sorted(await toxiproxy.populate(req.body)),
  // Toxics: POST /proxies/{p}/toxics, GET, POST and DELETE
  // /proxies/{p}/toxics/{t}.
  add: async (req) => {
    const proxy = await toxiproxy.get(req.proxy);
    return (await proxy.addToxic(req.body)).toJson();
  },
  toxic: async (req) => (await toxicOf(req)).toJson(),
  update: async (req) => (await (await toxicOf(req)).update(req.body)).toJson(),
  remove: async (req) => {
    await (await toxicOf(req)).remove();
    return null;
  },
  reset: async () => {
    await toxiproxy.reset();
    return null;
  },
};

// One request after the other, in the order they came.
let queue = Promise.resolve();
const lines = readline.createInterface({ input: process.stdin });
lines.on("line", (line) => {
  queue = queue.then(async () => {
    let answer;
    try {
      const req = JSON.parse(line);
      answer = { ok: await ops[req.op](req) };
    } catch (e) {
      answer = { error: String(e && e.message ? e.message : e) };
    }
    process.stdout.write(JSON.stringify(answer) + "\n");
  });
});
