// bridge.src.js — the storefront upload bridge, served as /static/bridge.js.
//
// The shop's theme includes it with one script tag. It gets every pet
// photo to printdesk exactly once, whatever the phone's network does:
// each photo waits in a queue on the device (IndexedDB, else localStorage,
// else memory) until the server has confirmed it; large photos go by tus
// and resume where they stopped, small ones in one multipart request;
// failed attempts are retried with exponential backoff and jitter, and the
// queue starts again when the browser is back online or the page is
// opened again. It writes the line-item properties the order webhook reads
// and moves the legacy localStorage photos (petData) to the server.
//
// ES5 on purpose (old mobile Safari): no let/const, arrows or classes.
// tools/build_bridge.py puts it in a function of (window, tus) after the
// vendored tus-js-client and drops full-line comments and indentation, so
// nothing here may span lines inside a string. docs/bridge.md is the
// theme's guide.
'use strict';

var document = window.document;
var SESSION_KEY = 'printdesk.session';
var IMAGES_KEY = 'printdesk.images';
var QUEUE_PREFIX = 'printdesk.queue.';
var LEGACY_KEY = 'petData';
var FIELDS = { original: 'originalUrl', processed: 'processedUrl' };
var KEPT = ['id', 'session', 'imageType', 'petIndex', 'petName', 'fileName',
  'fileType', 'size', 'blob', 'tusUrl', 'created', 'legacyMark'];
var DEFAULTS = {
  endpoint: '',
  chunkSize: 8 * 1024 * 1024,
  multipartBelow: 512 * 1024,
  retryBaseMs: 1000,
  retryMaxMs: 60000,
  stallMs: 45000,
  formWaitMs: 15000
};
// What the bundled tus client and this file need (Safari 10.1 and on).
var supported = !!(tus && tus.isSupported && window.Promise &&
  window.FormData && window.URL && typeof Object.entries === 'function');

// init's options; the upload session; the queue's stores (IndexedDB
// first) and items, oldest first; the item being sent; the timer of the
// next attempt; this page's upload() promises, event handlers and forms;
// bytes sent per item; upload() calls not yet in the queue.
var opts = null;
var session = '';
var stores = [];
var items = [];
var loaded = false;
var ready = null;
var active = null;
var timer = 0;
var waiters = {};
var handlers = {};
var forms = [];
var progressOf = {};
var incoming = [];

// ---- small helpers

function noop() {}

function each(list, fn) {
  for (var i = 0; i < list.length; i++) fn(list[i], i);
}

function extend(to, from) {
  for (var k in from) {
    if (Object.prototype.hasOwnProperty.call(from, k) &&
        from[k] !== undefined) to[k] = from[k];
  }
  return to;
}

function readJson(key) {
  try {
    return JSON.parse(window.localStorage.getItem(key));
  } catch (e) {
    return null;
  }
}

function writeJson(key, value) {
  try {
    window.localStorage.setItem(key, JSON.stringify(value));
    return true;
  } catch (e) {
    return false;
  }
}

function forget(key) {
  try {
    window.localStorage.removeItem(key);
  } catch (e) {
    return;
  }
}

function randomId(prefix) {
  var bytes = new Uint8Array(12);
  var out = prefix;
  var i;
  if (window.crypto && window.crypto.getRandomValues) {
    window.crypto.getRandomValues(bytes);
  } else {
    for (i = 0; i < bytes.length; i++) bytes[i] = Math.random() * 256;
  }
  for (i = 0; i < bytes.length; i++) {
    out += (bytes[i] + 256).toString(16).slice(1);
  }
  return out;
}

// An absolute URL without a trailing slash ('' is this page's origin).
function absolute(url) {
  var a = document.createElement('a');
  a.href = url || '/';
  return a.href.replace(/\/+$/, '');
}

// What a call gives where photos cannot be sent: a settled promise (or
// nothing, in a browser without promises).
function unsupported(value, err) {
  if (!window.Promise) return null;
  return err ? Promise.reject(err) : Promise.resolve(value);
}

function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch (e) {
    return null;
  }
}

// ---- events for the theme

function on(name, fn) {
  (handlers[name] = handlers[name] || []).push(fn);
  return api;
}

function off(name, fn) {
  var list = handlers[name] || [];
  var at = list.indexOf(fn);
  if (at >= 0) list.splice(at, 1);
  return api;
}

// A theme's handler that throws is reported, and the others still run.
function emit(name, detail) {
  each((handlers[name] || []).slice(), function (fn) {
    try {
      fn(detail);
    } catch (e) {
      window.setTimeout(function () { throw e; });
    }
  });
}

function describe(item, extra) {
  return extend({
    id: item.id, petIndex: item.petIndex, imageType: item.imageType,
    fileName: item.fileName, size: item.size
  }, extra);
}

// ---- photos as Blobs and data URLs

function dataUrlToBlob(url) {
  var m = /^data:([^;,]*)((?:;[^;,]*)*),/.exec(url);
  var body, bin, bytes, i;
  if (!m) throw new Error('a photo is a File, a Blob or a data: URL');
  body = url.slice(m[0].length);
  bin = /;base64/i.test(m[2]) ? window.atob(body) :
    decodeURIComponent(body);
  bytes = new Uint8Array(bin.length);
  for (i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new Blob([bytes], { type: m[1] });
}

function toBlob(input) {
  if (typeof input === 'string') return dataUrlToBlob(input);
  if (window.Blob && input instanceof window.Blob) return input;
  throw new Error('a photo is a File, a Blob or a data: URL');
}

function dataUrlOf(item) {
  if (item.dataUrl) return Promise.resolve(item.dataUrl);
  return new Promise(function (resolve, reject) {
    var reader = new window.FileReader();
    reader.onload = function () {
      item.dataUrl = reader.result;
      resolve(reader.result);
    };
    reader.onerror = function () { reject(reader.error); };
    reader.readAsDataURL(item.blob);
  });
}

function fileNameOf(input, blob, o) {
  var ext = (blob.type.split('/')[1] || 'bin').replace('jpeg', 'jpg');
  if (input.name) return String(input.name);
  return 'pet-' + (o.petIndex == null ? 0 : o.petIndex) + '-' +
    (o.imageType || 'original') + '.' + ext;
}

// ---- where the queue lives: IndexedDB, else localStorage and memory

// What of an item is stored (not its timers or attempts).
function stored(item) {
  var out = {};
  each(KEPT, function (k) {
    if (item[k] !== undefined) out[k] = item[k];
  });
  return out;
}

function idbStore(db) {
  function run(mode, fn) {
    return new Promise(function (resolve, reject) {
      var tx = db.transaction('queue', mode);
      var out = [];
      fn(tx.objectStore('queue'), out);
      tx.oncomplete = function () { resolve(out); };
      tx.onerror = tx.onabort = function () {
        reject(tx.error || new Error('IndexedDB refused'));
      };
    });
  }
  return {
    all: function () {
      return run('readonly', function (s, out) {
        s.openCursor().onsuccess = function (e) {
          var c = e.target.result;
          if (!c) return;
          out.push(c.value);
          c.continue();
        };
      });
    },
    put: function (item) {
      return run('readwrite', function (s) { s.put(stored(item)); });
    },
    del: function (id) {
      return run('readwrite', function (s) { s.delete(id); });
    }
  };
}

function openIdb() {
  return new Promise(function (resolve, reject) {
    var req = window.indexedDB.open('printdesk-bridge', 1);
    req.onupgradeneeded = function () {
      req.result.createObjectStore('queue', { keyPath: 'id' });
    };
    req.onsuccess = function () { resolve(idbStore(req.result)); };
    req.onerror = req.onblocked = function () { reject(req.error); };
  });
}

function localItems() {
  var out = [];
  var ls = window.localStorage;
  var i, it;
  for (i = 0; i < ls.length; i++) {
    if (ls.key(i).indexOf(QUEUE_PREFIX) !== 0) continue;
    it = readJson(ls.key(i));
    if (!it || !it.data) continue;
    it.dataUrl = it.data;
    it.blob = dataUrlToBlob(it.data);
    delete it.data;
    out.push(it);
  }
  return out;
}

// A photo too big for localStorage stays in this page's memory only.
function localStore() {
  var memory = {};
  return {
    all: function () {
      var out = [];
      var id;
      try {
        out = localItems();
      } catch (e) {
        out = [];
      }
      for (id in memory) out.push(memory[id]);
      return Promise.resolve(out);
    },
    put: function (item) {
      return dataUrlOf(item).then(function (data) {
        var copy = stored(item);
        delete copy.blob;
        copy.data = data;
        if (writeJson(QUEUE_PREFIX + item.id, copy)) delete memory[item.id];
        else memory[item.id] = item;
      });
    },
    del: function (id) {
      delete memory[id];
      forget(QUEUE_PREFIX + id);
      return Promise.resolve();
    }
  };
}

function openStores() {
  var local = localStore();
  var idb;
  try {
    idb = openIdb();
  } catch (e) {
    idb = Promise.reject(e);
  }
  return idb.then(function (s) { stores = [s, local]; },
    function () { stores = [local]; });
}

function save(item) {
  return stores[0].put(item).then(null, function (err) {
    if (stores.length > 1) return stores[1].put(item);
    throw err;
  });
}

function drop(item) {
  return Promise.all(stores.map(function (s) {
    return s.del(item.id).then(null, noop);
  }));
}

// Every stored item once, oldest first.
function loadAll() {
  return Promise.all(stores.map(function (s) {
    return s.all().then(null, function () { return []; });
  })).then(function (lists) {
    var seen = {};
    var out = [];
    each(lists, function (list) {
      each(list, function (it) {
        if (seen[it.id]) return;
        seen[it.id] = true;
        out.push(it);
      });
    });
    return out.sort(function (a, b) { return a.created - b.created; });
  });
}

// ---- talking to printdesk

function httpError(status, text, retryAfter) {
  var body = parseJson(text);
  var why = body && body.error ? body.error : {};
  var err = new Error(why.message || (status ?
    'the server answered ' + status : 'the server could not be reached'));
  err.status = status;
  err.permanent = status >= 400 && status < 500 &&
    [404, 408, 410, 423, 429].indexOf(status) < 0 &&
    (status !== 409 || why.code === 'session_full');
  err.retryAfterMs = (parseInt(retryAfter, 10) || 0) * 1000;
  return err;
}

// An error with no request behind it is the device's: the stored photo
// cannot be read any more, which no retry mends.
function tusError(err) {
  var res = err && err.originalResponse;
  var local;
  if (res) {
    return httpError(res.getStatus(), res.getBody(),
      res.getHeader('Retry-After'));
  }
  if (err && err.originalRequest) return httpError(0);
  local = new Error('the photo can no longer be read on this device');
  local.status = 0;
  local.permanent = true;
  return local;
}

// A request whose answer is an image record (JSON with an id).
function request(method, url, body, job, onProgress) {
  return new Promise(function (resolve, reject) {
    var xhr = new XMLHttpRequest();
    xhr.open(method, url, true);
    if (onProgress && xhr.upload) {
      xhr.upload.onprogress = function (e) { onProgress(e.loaded); };
    }
    xhr.onload = function () {
      var image = parseJson(xhr.responseText);
      if (xhr.status >= 200 && xhr.status < 300 && image && image.id) {
        resolve(image);
        return;
      }
      reject(httpError(xhr.status, xhr.responseText,
        xhr.getResponseHeader('Retry-After')));
    };
    xhr.onerror = xhr.onabort = function () { reject(httpError(0)); };
    job.abort = function () { xhr.abort(); };
    xhr.send(body);
  });
}

function sendMultipart(job, onProgress) {
  var item = job.item;
  var form = new window.FormData();
  form.append('session_id', item.session);
  form.append('image_type', item.imageType);
  if (item.petIndex != null) form.append('pet_index', String(item.petIndex));
  form.append('image', item.blob, item.fileName);
  return request('POST', opts.endpoint + '/api/v2/customer-upload', form,
    job, onProgress);
}

function tusMetadata(item) {
  var meta = {
    session_id: item.session, image_type: item.imageType,
    filename: item.fileName, filetype: item.fileType
  };
  if (item.petIndex != null) meta.pet_index = String(item.petIndex);
  return meta;
}

// tus-js-client keeps the upload's URL with the item: the first PATCH
// waits until it is stored, so a reload always finds where to go on.
function tusUrlStorage(item) {
  function keep(url) {
    item.tusUrl = url;
    return save(item).then(null, noop);
  }
  return {
    findAllUploads: function () { return Promise.resolve([]); },
    findUploadsByFingerprint: function () { return Promise.resolve([]); },
    removeUpload: function () { return keep(null); },
    addUpload: function (key, upload) {
      return keep(upload.uploadUrl).then(function () { return key; });
    }
  };
}

function sendTus(job, onProgress) {
  var item = job.item;
  return new Promise(function (resolve, reject) {
    var upload = new tus.Upload(item.blob, {
      endpoint: opts.endpoint + '/api/v2/uploads',
      uploadUrl: item.tusUrl || null,
      chunkSize: opts.chunkSize,
      retryDelays: null,
      overridePatchMethod: opts.overridePatchMethod,
      metadata: tusMetadata(item),
      fingerprint: function () { return Promise.resolve('pd-' + item.id); },
      urlStorage: tusUrlStorage(item),
      onProgress: onProgress,
      onSuccess: function () {
        resolve(request('GET', upload.url, null, job));
      },
      onError: function (err) { reject(tusError(err)); }
    });
    job.abort = function () { upload.abort(); };
    upload.start();
  });
}

// Sends one item; a connection that moves no byte for stallMs is given up.
function send(item) {
  var job = { item: item, abort: noop, seen: Date.now() };
  var sender = item.size < opts.multipartBelow ? sendMultipart : sendTus;
  var watch;
  return new Promise(function (resolve, reject) {
    watch = window.setInterval(function () {
      if (Date.now() - job.seen < opts.stallMs) return;
      job.abort();
      reject(httpError(0));
    }, 1000);
    sender(job, function (sent) {
      job.seen = Date.now();
      progressOf[item.id] = sent;
      emit('progress', describe(item, { loaded: sent, total: item.size }));
    }).then(resolve, reject);
  }).then(function (image) {
    window.clearInterval(watch);
    return image;
  }, function (err) {
    window.clearInterval(watch);
    throw err;
  });
}

// ---- the queue

function next() {
  var now = Date.now();
  var due = null;
  var wait = Infinity;
  window.clearTimeout(timer);
  if (active || !loaded) return;
  each(items, function (it) {
    if ((it.retryAt || 0) <= now) due = due || it;
    else wait = Math.min(wait, it.retryAt - now);
  });
  if (due) start(due);
  else if (wait < Infinity) timer = window.setTimeout(next, wait);
}

function start(item) {
  function done() {
    active = null;
    next();
  }
  active = item;
  send(item).then(function (image) {
    return confirmed(item, image);
  }, function (err) {
    return refused(item, err);
  }).then(done, done);
}

// Now and whenever the page is opened, shown or back online.
function resume() {
  each(items, function (it) { it.retryAt = 0; });
  next();
}

function settle(id, err, image) {
  each(waiters[id] || [], function (w) {
    if (err) w.reject(err);
    else w.resolve(image);
  });
  delete waiters[id];
}

function removeItem(item) {
  var at = items.indexOf(item);
  if (at >= 0) items.splice(at, 1);
  delete progressOf[item.id];
  return drop(item);
}

function confirmed(item, image) {
  remember(item, image);
  settleLegacy(item, image);
  return removeItem(item).then(function () {
    each(forms, writeProps);
    settle(item.id, null, image);
    emit('uploaded', describe(item, { image: image }));
    if (!items.length) emit('queue-empty', {});
  });
}

// A refusal is final; anything else is tried again later.
function refused(item, err) {
  var delay, reason;
  if (err.permanent) {
    reason = 'Your photo "' + item.fileName + '" was not accepted: ' +
      err.message;
    err.message = reason;
    return removeItem(item).then(function () {
      settle(item.id, err);
      emit('failed', describe(item, { status: err.status, reason: reason }));
      if (!items.length) emit('queue-empty', {});
    });
  }
  item.attempts = (item.attempts || 0) + 1;
  delay = Math.min(opts.retryMaxMs,
    opts.retryBaseMs * Math.pow(2, item.attempts - 1));
  delay = Math.max(err.retryAfterMs || 0,
    delay / 2 + Math.random() * delay / 2);
  item.retryAt = Date.now() + delay;
  emit('retrying', describe(item, {
    reason: err.message, attempt: item.attempts, delayMs: Math.round(delay)
  }));
}

// The same photo asked for again (e.g. by migrateLegacy after a reload).
function findQueued(item) {
  var found = null;
  each(items, function (it) {
    if (it.session === item.session && it.imageType === item.imageType &&
        it.petIndex === item.petIndex && it.size === item.size &&
        it.fileName === item.fileName &&
        (it.legacyMark || '') === (item.legacyMark || '')) found = it;
  });
  return found;
}

function newItem(input, o) {
  var blob = toBlob(input);
  var item = {
    id: randomId('q'), session: o.sessionId || session,
    imageType: o.imageType || 'original',
    petIndex: o.petIndex == null ? null : Number(o.petIndex),
    petName: o.petName ? String(o.petName) : '',
    fileName: fileNameOf(input, blob, o),
    fileType: blob.type || 'application/octet-stream',
    size: blob.size, blob: blob, created: Date.now()
  };
  if (typeof input === 'string') item.dataUrl = input;
  markLegacy(item);
  return item;
}

// Queues a photo; the promise gives the server's image record.
function upload(input, o) {
  var coming;
  o = o || {};
  if (!opts) init();
  if (!supported) {
    return unsupported(null, new Error('this browser cannot send photos'));
  }
  if (!FIELDS[o.imageType || 'original']) {
    return Promise.reject(new Error('imageType is original or processed'));
  }
  // Counted at once, so a form submitted right now waits for it.
  coming = { session: o.sessionId || session,
    petIndex: o.petIndex == null ? null : Number(o.petIndex), size: 0 };
  incoming.push(coming);
  return ready.then(function () {
    return enqueue(newItem(input, o));
  }).then(function (queued) {
    incoming.splice(incoming.indexOf(coming), 1);
    return queued.image;
  }, function (err) {
    incoming.splice(incoming.indexOf(coming), 1);
    throw err;
  });
}

// Once the item is stored: {image: a promise of its image record}.
function enqueue(item) {
  var queued = findQueued(item) || item;
  var out = {};
  out.image = new Promise(function (resolve, reject) {
    (waiters[queued.id] = waiters[queued.id] || []).push(
      { resolve: resolve, reject: reject });
  });
  if (queued !== item) return out;
  return save(item).then(function () {
    items.push(item);
    next();
    return out;
  });
}

function summary(item) {
  return describe(item, {
    tusUrl: item.tusUrl || null, attempts: item.attempts || 0,
    sent: progressOf[item.id] || 0
  });
}

function queue() {
  if (!opts) init();
  if (!supported) return unsupported([]);
  return ready.then(function () { return items.map(summary); });
}

// How many photos wait on this device, as its storage says.
function pending() {
  if (!opts) init();
  if (!supported) return unsupported(0);
  return ready.then(loadAll).then(function (list) { return list.length; });
}

// ---- confirmed photos and the legacy entry

function petKey(index) {
  return index == null ? '-' : String(index);
}

function remember(item, image) {
  var all = readJson(IMAGES_KEY) || {};
  var bySession = all[item.session] = all[item.session] || {};
  var pet = bySession[petKey(item.petIndex)] =
    bySession[petKey(item.petIndex)] || {};
  if ((pet[item.imageType + 'At'] || 0) > item.created) return;
  pet[item.imageType] = image.id;
  pet[item.imageType + 'At'] = item.created;
  if (item.petName) pet.name = item.petName;
  writeJson(IMAGES_KEY, all);
}

// The image ids confirmed for a pet of this session, and its name.
function images(petIndex) {
  var all = readJson(IMAGES_KEY) || {};
  var pet = (all[session] || {})[petKey(petIndex)] || {};
  return { original: pet.original || null, processed: pet.processed || null,
    name: pet.name || null };
}

function legacyMark(value) {
  if (typeof value !== 'string' || value.indexOf('data:') !== 0) return '';
  return value.length + ':' + value.slice(-40);
}

function legacyPet(data, index) {
  return data && data.pets && index != null ? data.pets[index] : null;
}

// The legacy copy this photo will replace once confirmed, if any.
function markLegacy(item) {
  var data = readJson(LEGACY_KEY);
  var pet = legacyPet(data, item.petIndex);
  if (!pet || (data.sessionId || session) !== item.session) return;
  item.legacyMark = legacyMark(pet[FIELDS[item.imageType]]) || undefined;
}

// Dual storage: the local copy gives way to the image id, once confirmed.
function settleLegacy(item, image) {
  var data = readJson(LEGACY_KEY);
  var pet = legacyPet(data, item.petIndex);
  var field = FIELDS[item.imageType];
  if (!pet || !item.legacyMark ||
      legacyMark(pet[field]) !== item.legacyMark) return;
  delete pet[field];
  pet[item.imageType + 'ImageId'] = image.id;
  writeJson(LEGACY_KEY, data);
}

function legacyName(index) {
  var pet = legacyPet(readJson(LEGACY_KEY), index);
  return pet && pet.name ? String(pet.name) : '';
}

function migrateOne(data, pet, index, type) {
  var url = pet && pet[FIELDS[type]];
  var failed = { petIndex: index, imageType: type };
  if (!url) return null;
  if (!legacyMark(url)) {
    failed.reason = 'The ' + type + ' photo of pet ' + (index + 1) +
      ' is not kept on this device, so it cannot be sent.';
    return Promise.resolve(failed);
  }
  return upload(url, {
    imageType: type, petIndex: index, petName: pet.name,
    sessionId: data.sessionId || session
  }).then(function (image) { return { image: image }; }, function (err) {
    failed.reason = err.message;
    return failed;
  });
}

// Sends every photo of the legacy petData entry; the entry is removed
// only once the server has confirmed them all.
function migrateLegacy() {
  var data = readJson(LEGACY_KEY);
  var jobs = [];
  if (!opts) init();
  if (!supported) return unsupported({ cleared: false, uploaded: [],
    failed: [] });
  if (!data) {
    return Promise.resolve({ cleared: true, uploaded: [], failed: [] });
  }
  each(data.pets || [], function (pet, i) {
    each(['original', 'processed'], function (type) {
      var job = migrateOne(data, pet, i, type);
      if (job) jobs.push(job);
    });
  });
  return Promise.all(jobs).then(function (results) {
    var out = { cleared: false, uploaded: [], failed: [] };
    each(results, function (r) {
      if (r.image) out.uploaded.push(r.image);
      else out.failed.push(r);
    });
    out.cleared = !out.failed.length && !!data.pets;
    if (out.cleared) forget(LEGACY_KEY);
    return out;
  });
}

// ---- the cart form

function field(form, name) {
  var el = form.elements.namedItem('properties[' + name + ']');
  return el && el.nodeType === 1 ? el : null;
}

function setProp(form, name, value) {
  var el = field(form, name);
  if (!value) {
    if (el && el.hasAttribute('data-printdesk')) el.parentNode.removeChild(el);
    return;
  }
  if (!el) {
    el = document.createElement('input');
    el.type = 'hidden';
    el.name = 'properties[' + name + ']';
    el.setAttribute('data-printdesk', '');
    form.appendChild(el);
  }
  el.value = value;
}

function writeProps(entry) {
  var ids = images(entry.petIndex);
  var own = field(entry.form, '_pet_name');
  setProp(entry.form, '_pd_session', session);
  setProp(entry.form, '_pd_original', ids.original);
  setProp(entry.form, '_pd_processed', ids.processed);
  if (!own || own.hasAttribute('data-printdesk')) {
    setProp(entry.form, '_pet_name',
      entry.petName || ids.name || legacyName(entry.petIndex));
  }
}

function waitingFor(petIndex) {
  var left = { count: 0, size: 0, sent: 0 };
  each(items.concat(incoming), function (it) {
    if (it.session !== session || it.petIndex !== petIndex) return;
    left.count++;
    left.size += it.size;
    left.sent += progressOf[it.id] || 0;
  });
  return left;
}

function statusOf(entry) {
  var el = entry.status;
  if (!el) {
    el = entry.status = document.createElement('p');
    el.className = 'printdesk-wait';
    el.setAttribute('role', 'status');
    el.setAttribute('aria-live', 'polite');
    entry.form.appendChild(el);
  }
  el.hidden = false;
  return el;
}

function release(entry, submitter) {
  var form = entry.form;
  writeProps(entry);
  entry.released = true;
  try {
    if (form.requestSubmit) {
      form.requestSubmit(submitter && submitter.form === form ?
        submitter : null);
    } else {
      form.submit();
    }
  } finally {
    entry.released = false;
  }
}

// Holds the submit while this pet's photos upload, at most waitMs.
function hold(entry, submitter) {
  var status = statusOf(entry);
  var until = Date.now() + entry.waitMs;
  var tick = window.setInterval(function () {
    var left = waitingFor(entry.petIndex);
    var secs = Math.ceil((until - Date.now()) / 1000);
    if (left.count && secs > 0) {
      status.textContent = 'Saving your photo\u2026 ' +
        Math.floor(100 * left.sent / Math.max(left.size, 1)) + '%';
      return;
    }
    window.clearInterval(tick);
    entry.holding = false;
    status.textContent = left.count ?
      'Your photo will finish uploading in the background.' : '';
    status.hidden = !left.count;
    release(entry, submitter);
  }, 200);
}

function onSubmit(entry, e) {
  writeProps(entry);
  if (entry.released || !waitingFor(entry.petIndex).count) return;
  e.preventDefault();
  e.stopImmediatePropagation();
  if (entry.holding) return;
  entry.holding = true;
  statusOf(entry).textContent = 'Saving your photo\u2026';
  hold(entry, e.submitter);
}

// Keeps the form's photo properties current and holds its submit until
// the pet's photos are confirmed (or waitMs has passed).
function attachToForm(form, o) {
  var entry;
  o = o || {};
  if (!opts) init();
  entry = {
    form: form, petIndex: o.petIndex == null ? 0 : Number(o.petIndex),
    petName: o.petName, waitMs: o.waitMs || opts.formWaitMs,
    status: o.status || null
  };
  forms.push(entry);
  writeProps(entry);
  form.addEventListener('submit', function (e) { onSubmit(entry, e); }, true);
  return api;
}

// ---- start

function pickSession(given) {
  var legacy = readJson(LEGACY_KEY);
  var id = given || readJson(SESSION_KEY) ||
    (legacy && legacy.sessionId) || randomId('pd_');
  writeJson(SESSION_KEY, String(id));
  return String(id);
}

function init(o) {
  o = o || {};
  if (opts) return api;
  opts = extend(extend({}, DEFAULTS), o);
  opts.endpoint = absolute(o.endpoint);
  if (o.overridePatchMethod === undefined) {
    opts.overridePatchMethod = /^\/[^/]/.test(o.endpoint || '');
  }
  session = pickSession(o.sessionId);
  if (!supported) return api;
  ready = openStores().then(loadAll).then(function (list) {
    items = list;
    loaded = true;
    next();
  }, noop);
  window.addEventListener('online', resume);
  window.addEventListener('pageshow', resume);
  document.addEventListener('visibilitychange', function () {
    if (!document.hidden) resume();
  });
  return api;
}

var api = {
  version: '1',
  supported: supported,
  init: init,
  upload: upload,
  attachToForm: attachToForm,
  migrateLegacy: migrateLegacy,
  on: on,
  off: off,
  images: images,
  queue: queue,
  pending: pending,
  sessionId: function () { return session; }
};

window.PrintdeskBridge = api;
