// list.js — bulk actions on the order list for fulfillers: select orders
// with their checkboxes, move them all to one status (each move posted
// on its own with an idempotency key; what moved and what conflicted is
// reported) or download one zip of all their files.
(function () {
  'use strict';

  const meta = (name) => {
    const m = document.querySelector('meta[name="' + name + '"]');
    return m ? m.content : '';
  };
  const base = meta('pd-base');
  const ZIP_MAX = 200;

  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const a = new Uint8Array(16);
    crypto.getRandomValues(a);
    return Array.from(a, (b) => b.toString(16).padStart(2, '0')).join('');
  }

  const selected = () => Array.from(
    document.querySelectorAll('#orders input.sel:checked'));

  // Shows the bar (it starts hidden: without script it has no use) and
  // brings the count and the zip link up to date.
  function update() {
    const bar = document.getElementById('bulk');
    if (!bar) return;
    bar.hidden = false;
    const boxes = selected();
    const n = boxes.length;
    document.getElementById('bulk-n').textContent = n === 0
      ? 'No orders selected.'
      : n + (n === 1 ? ' order selected.' : ' orders selected.');
    document.getElementById('bulk-move').disabled = n === 0;
    const zip = document.getElementById('bulk-zip');
    if (n === 0 || n > ZIP_MAX) {
      zip.removeAttribute('href');
      zip.setAttribute('aria-disabled', 'true');
    } else {
      zip.href = bar.dataset.zip + '?orders=' +
        boxes.map((b) => encodeURIComponent(b.value)).join(',');
      zip.removeAttribute('aria-disabled');
    }
  }

  async function move(ref, to, from) {
    const key = newKey();
    let res, data = null;
    try {
      res = await fetch(base + '/api/v1/orders/' + encodeURIComponent(ref) +
        '/status', {
        method: 'POST', credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json',
          'X-CSRF-Token': meta('csrf-token'), 'Idempotency-Key': key },
        body: JSON.stringify({ to, expected_from: from,
          idempotency_key: key }),
      });
    } catch (e) {
      return { ok: false, why: 'no connection' };
    }
    try { data = await res.json(); } catch (e) { /* not JSON */ }
    const why = data && data.error && data.error.message;
    return { ok: res.ok, why: why || 'HTTP ' + res.status };
  }

  // Shows the new status in the order's row.
  function markMoved(box, to, label) {
    box.dataset.status = to;
    box.checked = false;
    const st = box.parentNode.querySelector('.st');
    if (st) {
      st.className = 'st st-' + to;
      st.textContent = label;
    }
  }

  async function bulkMove(ev) {
    ev.preventDefault();
    const select = document.getElementById('bulk-to');
    const to = select.value;
    const label = select.options[select.selectedIndex].text;
    const msg = document.getElementById('bulk-msg');
    const button = document.getElementById('bulk-move');
    const moved = [], refused = [];
    button.disabled = true;
    msg.classList.remove('err');
    msg.textContent = 'Moving…';
    for (const box of selected()) {
      const name = '#' + box.value;
      const r = await move(box.value, to, box.dataset.status);
      if (r.ok) {
        moved.push(name);
        markMoved(box, to, label);
      } else {
        refused.push(name + ' (' + r.why + ')');
      }
    }
    let text = moved.length
      ? 'Moved to ' + label + ': ' + moved.join(', ') + '.' : '';
    if (refused.length) {
      text += (text ? ' ' : '') + 'Not moved: ' + refused.join('; ') + '.';
    }
    msg.textContent = text || 'No orders selected.';
    msg.classList.toggle('err', refused.length > 0);
    update();
  }

  document.addEventListener('change', (ev) => {
    if (ev.target.matches('#orders input.sel')) update();
  });
  document.addEventListener('submit', (ev) => {
    if (ev.target.id === 'bulk') bulkMove(ev);
  });
  document.addEventListener('click', (ev) => {
    const zip = ev.target.closest('#bulk-zip');
    if (zip && !zip.href) ev.preventDefault();
  });
  // The list's own script swaps the page's content as you search.
  const main = document.getElementById('main');
  if (main) new MutationObserver(update).observe(main, { childList: true });
  update();
}());
