// storefront-demo.js — the script of the demo storefront (/demo/storefront,
// local mode): what a theme does with the bridge. It starts the bridge on
// printdesk's own origin, ties the cart form to the first pet, sends each
// picked photo, shows every photo's progress and the queue, and, once the
// form has come back, the line-item properties the cart received.
(function () {
  'use strict';

  var bridge = window.PrintdeskBridge;
  var form = document.getElementById('cart');
  var list = document.getElementById('uploads');
  var queueLine = document.getElementById('queue');
  var rows = {};

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }

  // One line per photo: its name, a progress bar and what happened.
  function row(d) {
    var r = rows[d.id];
    if (r) return r;
    r = rows[d.id] = { li: el('li'), bar: el('progress'), note: el('span') };
    r.bar.max = 100;
    r.bar.value = 0;
    r.li.appendChild(el('span', 'name', d.fileName + ' (' + d.imageType +
      ', ' + Math.round(d.size / 1024) + ' KiB)'));
    r.li.appendChild(r.bar);
    r.li.appendChild(r.note);
    list.appendChild(r.li);
    return r;
  }

  function petName() {
    return form.elements.namedItem('properties[_pet_name]').value;
  }

  function showQueue() {
    bridge.pending().then(function (n) {
      queueLine.textContent = n ? n + ' photo(s) waiting on this device.' :
        'Every photo is on the server.';
    });
  }

  function watch() {
    bridge.on('progress', function (d) {
      row(d).bar.value = Math.floor(100 * d.loaded / Math.max(d.total, 1));
      row(d).note.textContent = 'sending';
    });
    bridge.on('uploaded', function (d) {
      row(d).bar.value = 100;
      row(d).note.textContent = 'on the server as ' + d.image.id;
      showQueue();
    });
    bridge.on('retrying', function (d) {
      row(d).note.textContent = 'waiting to try again (' + d.reason + ')';
    });
    bridge.on('failed', function (d) {
      row(d).note.textContent = d.reason;
      row(d).li.className = 'failed';
      showQueue();
    });
  }

  function pick(type) {
    var input = document.getElementById('photo-' + type);
    input.addEventListener('change', function () {
      var file = input.files[0];
      if (!file) return;
      bridge.upload(file, { imageType: type, petIndex: 0, petName: petName() })
        .then(null, function () { return null; });
      showQueue();
    });
  }

  // After the fake cart's submit: the properties it received.
  function showReceived() {
    var params = new window.URLSearchParams(window.location.search);
    var body = document.querySelector('#properties tbody');
    var any = false;
    params.forEach(function (value, name) {
      var tr = el('tr');
      tr.appendChild(el('td', '', name));
      tr.appendChild(el('td', '', value));
      body.appendChild(tr);
      any = true;
    });
    document.getElementById('received').hidden = !any;
  }

  bridge.init({ endpoint: '' });
  bridge.attachToForm(form, { petIndex: 0 });
  watch();
  pick('original');
  pick('processed');
  bridge.queue().then(function (items) { items.forEach(row); });
  showQueue();
  showReceived();
}());
