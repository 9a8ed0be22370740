// app.js — the dashboard's script, on top of pages that work without it:
// search as you type and "More" in place on the list; on an order page
// the workflow buttons, claim, notes, the compare slider and the zoom
// viewer (pinch, double-tap, pan; the original on demand); offline, the
// service worker's banner and a queue of changes sent when back online.
(function () {
  'use strict';

  const meta = (name) => {
    const m = document.querySelector('meta[name="' + name + '"]');
    return m ? m.content : '';
  };
  const base = meta('pd-base');

  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const a = new Uint8Array(16);
    crypto.getRandomValues(a);
    return Array.from(a, (b) => b.toString(16).padStart(2, '0')).join('');
  }

  // A fresher CSRF token than a saved page's (tokens age), if any.
  let csrf = meta('csrf-token');

  // POSTs JSON to url with the CSRF token; {ok, status, data}.
  async function post(url, body) {
    let res;
    try {
      res = await fetch(url, {
        method: 'POST', credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json',
          'X-CSRF-Token': csrf },
        body: JSON.stringify(body),
      });
    } catch (e) {
      return { ok: false, status: 0, data: null };
    }
    let data = null;
    try { data = await res.json(); } catch (e) { /* not JSON */ }
    return { ok: res.ok, status: res.status, data };
  }

  function errorText(r) {
    if (r.status === 0) return 'No connection. Try again.';
    const m = r.data && r.data.error && r.data.error.message;
    return m || 'That did not work (HTTP ' + r.status + ').';
  }

  // Fetches a page of ours and parses it.
  async function getPage(url) {
    const res = await fetch(url, { credentials: 'same-origin' });
    if (!res.ok) throw new Error('HTTP ' + res.status);
    return new DOMParser().parseFromString(await res.text(), 'text/html');
  }

  // ---- the list ----

  function listPage() {
    const form = document.querySelector('form.search');
    if (!form) return;
    const input = form.querySelector('input[name=q]');
    let timer = 0, seq = 0;
    input.addEventListener('input', () => {
      clearTimeout(timer);
      timer = setTimeout(() => refresh(), 250);
    });
    async function refresh() {
      const mine = ++seq;
      const params = new URLSearchParams(new FormData(form));
      if (!params.get('q')) params.delete('q');
      const url = form.action + (params.toString() ? '?' + params : '');
      let doc;
      try { doc = await getPage(url); } catch (e) { return; }
      if (mine !== seq) return;
      const main = document.getElementById('main');
      while (form.nextSibling) form.nextSibling.remove();
      const fresh = doc.querySelector('form.search');
      for (let n = fresh.nextSibling; n; n = n.nextSibling) {
        main.appendChild(document.importNode(n, true));
      }
      history.replaceState(null, '', url);
    }
    document.addEventListener('click', async (ev) => {
      const more = ev.target.closest('#more');
      if (!more) return;
      ev.preventDefault();
      more.setAttribute('aria-busy', 'true');
      let doc;
      try { doc = await getPage(more.href); } catch (e) {
        location.href = more.href;
        return;
      }
      const list = document.getElementById('orders');
      doc.querySelectorAll('#orders > li').forEach((li) =>
        list.appendChild(document.importNode(li, true)));
      const next = doc.getElementById('more');
      if (next) more.href = next.href; else more.parentNode.remove();
      more.removeAttribute('aria-busy');
    });
  }

  // ---- an order's actions ----

  function say(text, isError) {
    const msg = document.getElementById('msg');
    if (!msg) return;
    msg.textContent = text;
    msg.classList.toggle('err', !!isError);
  }

  // Sends a change; with no connection it joins the offline queue.
  async function act(box, button, path, body, doneText) {
    const buttons = box.querySelectorAll('button');
    buttons.forEach((b) => { b.disabled = true; });
    say('Working…');
    const r = await post(base + path, body);
    if (r.status === 0 && await offline.queue(base + path, body,
      button.textContent.trim())) {
      buttons.forEach((b) => { b.disabled = false; });
      if (box.tagName === 'FORM') box.reset();
      say('No connection: “' + button.textContent.trim() + '” is saved ' +
        'on this device and will be sent when you are back online.');
      return;
    }
    if (r.ok) {
      say(doneText);
      location.reload();
      return;
    }
    buttons.forEach((b) => { b.disabled = false; });
    if (r.status === 409) {
      say(errorText(r) + ' Reload to see the order as it is now.', true);
    } else {
      say(errorText(r), true);
    }
    button.focus();
  }

  function orderActions() {
    const box = document.getElementById('actions');
    if (!box) return;
    const order = encodeURIComponent(box.dataset.order);
    const path = '/api/v1/orders/' + order + '/';
    box.addEventListener('click', (ev) => {
      const b = ev.target.closest('button');
      if (!b) return;
      if (b.dataset.move) {
        act(box, b, path + 'status', { to: b.dataset.move,
          expected_from: box.dataset.status, idempotency_key: newKey() },
        'Moved.');
      } else if (b.dataset.claim) {
        act(box, b, path + b.dataset.claim, { idempotency_key: newKey() },
          b.dataset.claim === 'claim' ? 'Claimed.' : 'Released.');
      }
    });
    const form = document.getElementById('note-form');
    if (!form) return;
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const text = form.querySelector('textarea').value.trim();
      if (!text) return;
      act(form, form.querySelector('button'), path + 'notes',
        { body: text, idempotency_key: newKey() }, 'Note added.');
    });
  }

  // ---- compare: the cut-out on a background, left of the slider ----

  function compareViews() {
    document.querySelectorAll('[data-compare]').forEach((box) => {
      const stage = box.querySelector('.stage');
      const imgs = stage.querySelectorAll('img');
      const range = box.querySelector('input[type=range]');
      const bg = box.querySelector('select');
      const show = () => {
        const v = Number(range.value);
        imgs[0].style.clipPath = 'inset(0 0 0 ' + v + '%)';
        imgs[1].style.clipPath = 'inset(0 ' + (100 - v) + '% 0 0)';
      };
      range.addEventListener('input', show);
      bg.addEventListener('change', () => {
        const checker = bg.value === 'checker';
        stage.classList.toggle('checker', checker);
        stage.style.backgroundColor = checker ? '' : bg.value;
      });
      show();
    });
  }

  // ---- the zoom viewer ----

  function button(text, label) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'btn';
    b.textContent = text;
    if (label) b.setAttribute('aria-label', label);
    return b;
  }

  function openViewer(opener) {
    const thumb = opener.querySelector('img');
    const box = document.createElement('div');
    box.className = 'viewer';
    box.setAttribute('role', 'dialog');
    box.setAttribute('aria-modal', 'true');
    box.setAttribute('aria-label', thumb.alt);
    const img = new Image();
    img.src = opener.dataset.preview;
    img.alt = thumb.alt;
    img.draggable = false;
    const bar = document.createElement('div');
    bar.className = 'vbar';
    const zin = button('+', 'Zoom in'), zout = button('−', 'Zoom out');
    const close = button('Close');
    bar.append(zin, zout);
    if (opener.dataset.original) {
      const full = button('Original');
      full.setAttribute('aria-label', 'Load the full original');
      full.addEventListener('click', () => {
        img.src = opener.dataset.original;
        full.disabled = true;
      });
      bar.append(full);
    }
    bar.append(close);
    box.append(bar, img);
    document.body.append(box);
    const z = zoomer(box, img);
    zin.addEventListener('click', () => z.by(1.5));
    zout.addEventListener('click', () => z.by(1 / 1.5));
    const shut = () => {
      box.remove();
      document.removeEventListener('keydown', onKey);
      opener.focus();
    };
    const onKey = (ev) => {
      if (ev.key === 'Escape') shut();
      if (ev.key === 'Tab') {  // keep focus inside the dialog
        const f = bar.querySelectorAll('button:not([disabled])');
        const first = f[0], last = f[f.length - 1];
        if (ev.shiftKey && document.activeElement === first) {
          last.focus(); ev.preventDefault();
        } else if (!ev.shiftKey && document.activeElement === last) {
          first.focus(); ev.preventDefault();
        }
      }
    };
    close.addEventListener('click', shut);
    document.addEventListener('keydown', onKey);
    close.focus();
  }

  // Pinch, double-tap and pan over img inside box; scale 1..8.
  function zoomer(box, img) {
    const t = { s: 1, x: 0, y: 0 };
    const pts = new Map();
    let pinch = null, lastTap = null;
    const apply = () => {
      if (t.s <= 1) { t.s = 1; t.x = 0; t.y = 0; }
      img.style.transform =
        'translate(' + t.x + 'px,' + t.y + 'px) scale(' + t.s + ')';
    };
    // Scales to s keeping the screen point (cx, cy) where it is.
    const zoomAt = (s, cx, cy) => {
      s = Math.min(8, Math.max(1, s));
      const r = img.getBoundingClientRect();
      const px = cx - (r.left - t.x), py = cy - (r.top - t.y);
      t.x = px - (px - t.x) * s / t.s;
      t.y = py - (py - t.y) * s / t.s;
      t.s = s;
      apply();
    };
    const centre = () => {
      const r = box.getBoundingClientRect();
      return [r.left + r.width / 2, r.top + r.height / 2];
    };
    box.addEventListener('pointerdown', (ev) => {
      if (ev.target !== img && ev.target !== box) return;
      box.setPointerCapture(ev.pointerId);
      pts.set(ev.pointerId, [ev.clientX, ev.clientY]);
      if (pts.size === 2) {
        const [a, b] = [...pts.values()];
        pinch = { d: Math.hypot(a[0] - b[0], a[1] - b[1]), s: t.s };
      }
    });
    box.addEventListener('pointermove', (ev) => {
      const old = pts.get(ev.pointerId);
      if (!old) return;
      pts.set(ev.pointerId, [ev.clientX, ev.clientY]);
      if (pts.size === 2 && pinch) {
        const [a, b] = [...pts.values()];
        const d = Math.hypot(a[0] - b[0], a[1] - b[1]);
        zoomAt(pinch.s * d / pinch.d, (a[0] + b[0]) / 2, (a[1] + b[1]) / 2);
      } else if (pts.size === 1 && t.s > 1) {
        t.x += ev.clientX - old[0];
        t.y += ev.clientY - old[1];
        apply();
      }
    });
    const up = (ev) => {
      if (!pts.delete(ev.pointerId)) return;
      if (pts.size < 2) pinch = null;
      if (ev.type !== 'pointerup') return;
      const now = Date.now();
      if (lastTap && now - lastTap.at < 300 &&
          Math.hypot(ev.clientX - lastTap.x, ev.clientY - lastTap.y) < 30) {
        if (t.s > 1) { t.s = 1; apply(); } else zoomAt(2.5, ev.clientX,
          ev.clientY);
        lastTap = null;
      } else {
        lastTap = { at: now, x: ev.clientX, y: ev.clientY };
      }
    };
    box.addEventListener('pointerup', up);
    box.addEventListener('pointercancel', up);
    box.addEventListener('wheel', (ev) => {
      ev.preventDefault();
      zoomAt(t.s * (ev.deltaY < 0 ? 1.2 : 1 / 1.2), ev.clientX, ev.clientY);
    }, { passive: false });
    return { by: (f) => zoomAt(t.s * f, ...centre()), state: t };
  }

  function zoomButtons() {
    document.addEventListener('click', (ev) => {
      const b = ev.target.closest('button.zoom');
      if (b) openViewer(b);
    });
  }

  // ---- offline: the service worker, its banner and the queue ----

  const offline = (function () {
    const DB = 'printdesk-offline', STORE = 'queue';
    const order = () => {
      const box = document.getElementById('actions');
      return box ? box.dataset.order : '';
    };
    let flushing = false;
    let note = null;  // what the flush before a reload said: {text, err}

    // Runs fn(store) in one transaction; resolves with its request's result.
    function tx(mode, fn) {
      return new Promise((resolve, reject) => {
        const open = indexedDB.open(DB, 1);
        open.onupgradeneeded = () => open.result.createObjectStore(STORE,
          { keyPath: 'id', autoIncrement: true });
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const db = open.result;
          const t = db.transaction(STORE, mode);
          const req = fn(t.objectStore(STORE));
          t.oncomplete = () => { db.close(); resolve(req.result); };
          t.onerror = () => { db.close(); reject(t.error); };
        };
      });
    }

    // Shows text in the offline banner at the top of the page.
    function banner(text, isError) {
      let p = document.getElementById('offline');
      if (!p) {
        p = document.createElement('p');
        p.id = 'offline';
        p.className = 'msg';
        Object.assign(p.style, { margin: '0 0 12px', padding: '10px 12px',
          borderRadius: '8px' });
        document.getElementById('main').prepend(p);
      }
      p.setAttribute('role', isError ? 'alert' : 'status');
      Object.assign(p.style, isError
        ? { background: '#f4d6d6', color: '#6e1212' }
        : { background: '#fff0c2', color: '#4f3b00' });
      p.textContent = text;
    }

    function ago(ms) {
      const min = Math.round(Math.max(0, Date.now() - ms) / 60000);
      if (min < 1) return 'less than a minute ago';
      if (min < 120) return min + ' min ago';
      if (min < 48 * 60) return Math.round(min / 60) + ' h ago';
      return Math.round(min / 1440) + ' d ago';
    }

    // The change's URL and body (with its idempotency key) kept for later.
    async function queue(url, body, label) {
      if (!window.indexedDB) return false;
      try {
        await tx('readwrite', (st) => st.add({ url, body, label,
          order: order(), at: Date.now() }));
      } catch (e) { return false; }
      await show();
      return true;
    }

    async function waiting() {
      try { return await tx('readonly', (st) => st.count()); } catch (e) {
        return 0;
      }
    }

    // The banner: a saved copy's age, the changes waiting, and what the
    // last flush said before the page was reloaded.
    async function show() {
      const saved = Number(meta('pd-offline'));
      const n = await waiting();
      const parts = [];
      if (saved) parts.push('Offline — showing the copy from ' + ago(saved) +
        '.');
      if (n > 0) {
        parts.push(n + (n === 1 ? ' change' : ' changes') +
          ' waiting to be sent.');
      }
      if (note) parts.push(note.text);
      if (parts.length) banner(parts.join(' '), note && note.err);
    }

    // A fresh CSRF token from the list page (a saved page's may be old).
    async function freshToken() {
      try {
        const doc = await getPage(base + '/dashboard');
        const m = doc.querySelector('meta[name="csrf-token"]');
        if (m) csrf = m.content;
        return !!m;
      } catch (e) { return false; }
    }

    // Sends one queued change: 'sent', 'conflict' (shown), 'failed'
    // (shown, dropped) or 'later' (kept: no connection or server trouble).
    async function send(item, problems) {
      let r = await post(item.url, item.body);
      const code = r.data && r.data.error && r.data.error.code;
      if (r.status === 403 && /^csrf/.test(code || '') &&
          await freshToken()) r = await post(item.url, item.body);
      if (r.status === 0 || r.status === 401 || r.status === 429 ||
          r.status >= 500) return 'later';
      await tx('readwrite', (st) => st.delete(item.id));
      if (r.ok) return 'sent';
      problems.push((r.status === 409 ? 'Not applied — ' : 'Failed — ') +
        '“' + item.label + '” on order ' + item.order + ': ' +
        errorText(r) + (r.status === 409 ? ' Someone else changed the ' +
        'order; look at it again before you act.' : ''));
      return r.status === 409 ? 'conflict' : 'failed';
    }

    // Sends what is waiting, oldest first; a replay is harmless (each
    // change carries the idempotency key it was made with).
    async function flush() {
      if (flushing || !window.indexedDB || !navigator.onLine) return;
      flushing = true;
      const problems = [];
      let sent = 0, here = false;
      try {
        for (const item of await tx('readonly', (st) => st.getAll())) {
          const how = await send(item, problems);
          if (how === 'later') break;
          if (how === 'sent') sent++;
          if (item.order === order()) here = true;
        }
      } catch (e) { /* IndexedDB refused: try again on the next load */ }
      flushing = false;
      report(sent, problems, here);
    }

    // After a flush: a fresh page if this one changed or is a saved copy.
    function report(sent, problems, here) {
      let text = sent ? 'Back online: ' + sent + (sent === 1 ? ' change' :
        ' changes') + ' made offline sent.' : '';
      if (problems.length) text += (text ? ' ' : '') + problems.join(' ');
      const err = problems.length > 0;
      if (text) note = { text, err };
      if (text && (meta('pd-offline') || (here && !err))) {
        sessionStorage.setItem('pd-flash', JSON.stringify(note));
      }
      if (meta('pd-offline')) {
        refresh();
      } else if (text && here && !err) {
        location.reload();
      } else {
        show();
      }
    }

    // A saved copy while online again: reloads once the page answers, at
    // most once in 5 s so that a flaky connection cannot loop.
    async function refresh() {
      show();
      if (!navigator.onLine) return;
      const wait = 5000 - (Date.now() -
        (Number(sessionStorage.getItem('pd-refresh')) || 0));
      if (wait > 0) {
        setTimeout(refresh, wait);
        return;
      }
      try {
        const res = await fetch(location.href, { credentials: 'same-origin' });
        if (!res.ok) throw new Error('HTTP ' + res.status);
      } catch (e) {
        setTimeout(refresh, 5000);
        return;
      }
      sessionStorage.setItem('pd-refresh', String(Date.now()));
      location.reload();
    }

    // What the flush before a reload had to say: {text, err} or null.
    function flash() {
      const f = sessionStorage.getItem('pd-flash');
      sessionStorage.removeItem('pd-flash');
      try { return f ? JSON.parse(f) : null; } catch (e) { return null; }
    }

    // Registers the worker and hands it the page to keep (it fetches the
    // page again unless it saved it while serving it).
    async function register() {
      if (!('serviceWorker' in navigator) || meta('pd-offline')) return;
      const sw = navigator.serviceWorker;
      try {
        await sw.register(base + '/dashboard/sw.js',
          { scope: base + '/dashboard' });
        const reg = await sw.ready;
        const assets = [...document.querySelectorAll(
          'link[rel=stylesheet], script[src]')].map((e) => e.href || e.src);
        reg.active.postMessage({ type: 'keep', assets, page: location.href,
          since: Math.floor(performance.timeOrigin) });
      } catch (e) { /* no worker: the pages work online as before */ }
    }

    function start() {
      if (!document.getElementById('main') ||
          !location.pathname.startsWith(base + '/dashboard')) return;
      note = flash();
      show();
      register();
      window.addEventListener('online', flush);
      window.addEventListener('offline', () => banner('Offline — changes ' +
        'you make are saved on this device and sent when you are back ' +
        'online.'));
      flush();
    }

    // Drops everything kept on this device for the signed-in person: the
    // queue, the saved pages and assets, and the worker itself.
    async function forget() {
      const tasks = [];
      if (window.indexedDB) {
        tasks.push(new Promise((resolve) => {
          const del = indexedDB.deleteDatabase(DB);
          del.onsuccess = del.onerror = del.onblocked = () => resolve();
        }));
      }
      if (window.caches) {
        tasks.push(caches.keys().then((names) => Promise.all(names
          .filter((n) => n.startsWith('pd-')).map((n) => caches.delete(n)))));
      }
      if (navigator.serviceWorker) {
        tasks.push(navigator.serviceWorker.getRegistrations().then((regs) =>
          Promise.all(regs.map((r) => r.unregister()))));
      }
      await Promise.all(tasks.map((t) => t.catch(() => null)));
    }

    return { queue, start, waiting, forget };
  }());

  // ---- signing out (direct sessions) ----
  // Ends the session on the server, then clears what this device kept,
  // so the next person on the phone sees none of it, even offline.
  function signOut() {
    const button = document.querySelector('[data-signout]');
    if (!button) return;
    button.hidden = false;
    button.addEventListener('click', async () => {
      const n = await offline.waiting();
      if (n > 0 && !window.confirm(n + (n === 1 ? ' change' : ' changes') +
          ' made offline have not been sent yet. Sign out and drop ' +
          (n === 1 ? 'it?' : 'them?'))) return;
      button.disabled = true;
      const r = await post(base + '/auth/logout', {});
      if (!r.ok) {
        button.disabled = false;
        window.alert(r.status === 0 ? 'You are offline: sign out once ' +
          'you are back online.' : errorText(r));
        return;
      }
      await offline.forget();
      const main = document.getElementById('main');
      main.innerHTML = '<h1>Signed out</h1><p>This device no longer ' +
        'keeps your orders or changes. Use a new sign-in link to come ' +
        'back.</p>';
      document.querySelectorAll('.bar .who, [data-signout]')
        .forEach((e) => e.remove());
    });
  }

  // ---- zip downloads with progress ----
  // A link marked data-zip is fetched by the page, which shows how much
  // has arrived (of the files' total the server tells up front; the zip
  // adds a little), then hands the finished file to the browser.
  function mb(n) { return (n / 1048576).toFixed(1) + ' MB'; }

  function zipName(res, a) {
    const m = /filename="([^"]+)"/.exec(
      res.headers.get('Content-Disposition') || '');
    return m ? m[1] : (a.getAttribute('download') || 'download.zip');
  }

  function zipStatus(a) {
    let box = a.parentNode.querySelector('.zip-progress');
    if (!box) {
      box = document.createElement('p');
      box.className = 'zip-progress msg';
      box.setAttribute('role', 'status');
      box.innerHTML = '<progress max="100" value="0"></progress> ' +
        '<span></span>';
      a.insertAdjacentElement('afterend', box);
    }
    box.classList.remove('err');
    return {
      show(got, total) {
        const bar = box.querySelector('progress');
        if (total > 0) bar.value = Math.min(99, 100 * got / total);
        else bar.removeAttribute('value');
        box.querySelector('span').textContent = 'Downloading: ' + mb(got) +
          (total > 0 ? ' of about ' + mb(total) : '');
      },
      done(name, got) {
        box.querySelector('progress').value = 100;
        box.querySelector('span').textContent = 'Downloaded ' + name +
          ' (' + mb(got) + ').';
      },
      fail(text) {
        box.classList.add('err');
        box.querySelector('progress').value = 0;
        box.querySelector('span').textContent = text;
      },
    };
  }

  function saveBlob(blob, name) {
    const url = URL.createObjectURL(blob);
    const link = document.createElement('a');
    link.href = url;
    link.download = name;
    link.hidden = true;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  }

  async function fetchZip(a) {
    const status = zipStatus(a);
    a.setAttribute('aria-busy', 'true');
    try {
      const res = await fetch(a.href, { credentials: 'same-origin' });
      if (!res.ok) {
        const data = await res.json().catch(() => null);
        status.fail(errorText({ status: res.status, data }));
        return;
      }
      const total = Number(res.headers.get('X-Files-Bytes')) || 0;
      const reader = res.body.getReader();
      const parts = [];
      let got = 0;
      status.show(0, total);
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        parts.push(value);
        got += value.length;
        status.show(got, total);
      }
      const name = zipName(res, a);
      saveBlob(new Blob(parts, { type: 'application/zip' }), name);
      status.done(name, got);
    } catch (e) {
      status.fail('The download stopped: ' + (navigator.onLine ?
        'the connection broke.' : 'you are offline.') + ' Try again.');
    } finally {
      a.removeAttribute('aria-busy');
    }
  }

  function zipLinks() {
    if (!window.ReadableStream || !window.fetch) return;
    document.addEventListener('click', (ev) => {
      const a = ev.target.closest('a[data-zip]');
      if (!a || !a.getAttribute('href') || ev.defaultPrevented ||
          ev.button !== 0 || ev.ctrlKey || ev.metaKey || ev.shiftKey) return;
      ev.preventDefault();
      if (a.getAttribute('aria-busy') !== 'true') fetchZip(a);
    });
  }

  listPage();
  orderActions();
  zipLinks();
  signOut();
  compareViews();
  zoomButtons();
  offline.start();
}());
