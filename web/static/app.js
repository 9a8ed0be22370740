// app.js — the dashboard's script, on top of pages that work without it:
// search as you type and "More" in place on the list; on an order page
// the workflow buttons, claim, notes, the compare slider and the zoom
// viewer (pinch, double-tap, pan; the original on demand).
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

  // POSTs JSON to the API with the page's CSRF token; {ok, status, data}.
  async function post(path, body) {
    let res;
    try {
      res = await fetch(base + path, {
        method: 'POST', credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json',
          'X-CSRF-Token': meta('csrf-token') },
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

  async function act(box, button, path, body, doneText) {
    const buttons = box.querySelectorAll('button');
    buttons.forEach((b) => { b.disabled = true; });
    say('Working…');
    const r = await post(path, body);
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

  listPage();
  orderActions();
  compareViews();
  zoomButtons();
}());
