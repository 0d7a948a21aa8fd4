// eventfold's service worker: the page keeps working offline once it has loaded.
//
// Trunk names the page's files by their content (eventfold-frontend-<hash>.js,
// …_bg.wasm, style-<hash>.css), so this worker cannot list them in advance: on
// install it reads index.html and caches every file it names. Afterwards every
// same-origin GET goes to the network first (a new build is picked up as soon as it
// is served) and falls back to the cache when the network fails; what the network
// returns is cached for next time. The bridge's own endpoints (/ws, /healthz,
// /metrics) are never cached: they are live.
//
// index.html registers this worker only on http(s) pages whose browser has service
// workers; a page opened from file:// or without them simply runs uncached.

const CACHE = "eventfold-v1";
const LIVE = ["/ws", "/healthz", "/metrics"];

// The files index.html names: its stylesheet, script and wasm.
function namedIn(html) {
  const names = new Set();
  for (const match of html.matchAll(/(?:href|src|module_or_path:)\s*=?\s*["']([^"']+\.(?:js|wasm|css))["']/g)) {
    names.add(match[1]);
  }
  for (const match of html.matchAll(/from\s+["']([^"']+\.js)["']/g)) {
    names.add(match[1]);
  }
  return [...names];
}

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    const page = await fetch("./", { cache: "no-cache" });
    if (!page.ok) throw new Error(`index.html: HTTP ${page.status}`);
    const html = await page.clone().text();
    await cache.put("./", page);
    await cache.addAll(namedIn(html).map((name) => new URL(name, self.registration.scope).href));
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name !== CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin
      || LIVE.some((path) => url.pathname === path || url.pathname.startsWith(path + "/"))) {
    return;
  }
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    try {
      const response = await fetch(request);
      if (response.ok && response.type === "basic") {
        // Every address of the page (?query, #hash) is the same index.html.
        await cache.put(request.mode === "navigate" ? "./" : request, response.clone());
      }
      return response;
    } catch (offline) {
      const cached = request.mode === "navigate"
        ? await cache.match("./")
        : await cache.match(request);
      if (cached) return cached;
      throw offline;
    }
  })());
});
