// The review page's script (faceguard/review.py inlines it): draws the files from the
// page's JSON data, PAGE at a time, with filters, keys and the near-miss queue.
(function(){
  var PAGE = 200, MISSES_PAGE = 5000, LABELLED = __LABELLED__;
  var data = JSON.parse(document.getElementById('data').textContent);
  var grid = document.getElementById('grid'), more = document.getElementById('more');
  var list = data, drawn = 0;
  function esc(s){ return String(s == null ? '' : s).replace(/[&<>"']/g, function(c){
    return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c]; }); }
  function has(f, name){
    return name === 'all' || (name === 'error' && f.status === 'error') || (name === 'faces' && f.faces.length)
      || (name === 'docs' && (f.cards.length || f.texts.length)) || (name === 'near' && f.near.length); }
  function rect(cls, b, title){
    return '<rect class="' + cls + '" x="' + b[0] + '" y="' + b[1] + '" width="' + (b[2] - b[0]) +
      '" height="' + (b[3] - b[1]) + '"><title>' + esc(title) + '</title></rect>'; }
  function overlay(f){
    var w = f.size[0], h = f.size[1], s = [], stroke = Math.max(w, h) / 160;
    f.faces.forEach(function(x){
      var label = 'face ' + x[4].toFixed(2) + ' ' + x[5];
      s.push(rect('face', x, label));
      if (x[2] - x[0] >= LABELLED * w) s.push('<text x="' + x[0] + '" y="' + Math.max(x[1] - 4, 12) + '">' +
                                               esc(label) + '</text>'); });
    f.cards.forEach(function(c){
      s.push('<polygon class="card" points="' + c.slice(0, 4).map(function(p){ return p.join(','); }).join(' ') +
             '"><title>document ' + esc(c[4]) + '</title></polygon><text x="' + c[0][0] + '" y="' +
             Math.max(c[0][1] - 4, 12) + '">document ' + esc(c[4]) + '</text>'); });
    f.texts.forEach(function(t){ s.push(rect('text', t, t[4] + ' line')); });
    f.near.forEach(function(n){ s.push(rect('near', n, 'near miss ' + n[4].toFixed(2))); });
    return '<svg viewBox="0 0 ' + w + ' ' + h + '" preserveAspectRatio="none" style="--stroke:' +
      stroke.toFixed(1) + 'px;--font:' + Math.round(stroke * 6) + 'px">' + s.join('') + '</svg>'; }
  function card(f){
    var flags = ['error', 'faces', 'docs', 'near'].filter(function(n){ return has(f, n); })
      .map(function(n){ return ' data-' + n + '="1"'; }).join('');
    var pic = '<div class="pic none">no output</div>';
    if (f.thumb) {
      pic = '<div class="pic"><img loading="lazy" src="' + esc(f.thumb) + '" alt="' + esc(f.name) + '">' + overlay(f);
      if (f.before) pic += '<img class="before" loading="lazy" src="' + esc(f.before) + '" alt="original">' +
        '<input class="slider" type="range" min="0" max="100" value="0" aria-label="show the original">';
      pic += '</div>'; }
    return '<article class="file ' + esc(f.status) + '" id="file-' + f.id + '" tabindex="0"' + flags +
      (f.output ? ' data-output="' + esc(f.output) + '"' : '') + '>' + pic + '<h3>' + esc(f.name) + '</h3>' +
      (f.error ? '<p class="' + (f.status === 'error' ? 'error' : 'note') + '">' + esc(f.error) + '</p>' : '') + '<p>' + esc(f.facts) + '</p></article>'; }
  function drawMore(){
    var end = Math.min(list.length, drawn + PAGE), html = '';
    for (var i = drawn; i < end; i++) html += card(list[i]);
    grid.insertAdjacentHTML('beforeend', html); drawn = end;
    more.textContent = drawn < list.length ? 'showing ' + drawn + ' of ' + list.length + ' (scroll for more)' : '';
    document.getElementById('count').textContent = list.length + ' files'; }
  function apply(name){
    document.querySelectorAll('#filters button').forEach(function(b){
      b.classList.toggle('on', b.dataset.filter === name); });
    list = data.filter(function(f){ return has(f, name); });
    grid.innerHTML = ''; drawn = 0; drawMore(); }
  document.querySelectorAll('#filters button').forEach(function(b){
    b.addEventListener('click', function(){ apply(b.dataset.filter); }); });
  var watcher = new IntersectionObserver(function(entries){
    if (entries[0].isIntersecting && drawn < list.length) {
      drawMore(); watcher.unobserve(more); watcher.observe(more); } });  // still in view: again
  watcher.observe(more);
  function move(step){
    var at = Array.prototype.indexOf.call(grid.children, document.activeElement);
    if (at + step >= grid.children.length && drawn < list.length) drawMore();
    var next = grid.children[Math.max(0, Math.min(grid.children.length - 1, at < 0 ? 0 : at + step))];
    if (next) { next.focus(); next.scrollIntoView({block: 'nearest'}); } }
  var names = ['all', 'error', 'faces', 'docs', 'near'];
  document.addEventListener('keydown', function(e){
    if (e.target.tagName === 'INPUT' || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === 'j' || e.key === 'ArrowRight') { move(1); e.preventDefault(); }
    else if (e.key === 'k' || e.key === 'ArrowLeft') { move(-1); e.preventDefault(); }
    else if (e.key >= '1' && e.key <= '5') { apply(names[+e.key - 1]); }
    else if (e.key === 'Enter' && document.activeElement.dataset.output) {
      window.open(document.activeElement.dataset.output); } });
  grid.addEventListener('input', function(e){
    if (e.target.classList.contains('slider'))
      e.target.parentNode.querySelector('.before').style.clipPath = 'inset(0 ' + (100 - e.target.value) + '% 0 0)'; });
  var misses = [];
  data.forEach(function(f){ f.near.forEach(function(n){ if (n[5]) misses.push([n[4], n[5], f]); }); });
  misses.sort(function(a, b){ return b[0] - a[0]; });
  var missesDrawn = 0, box = document.getElementById('misses'), moreMisses = document.getElementById('more-misses');
  function drawMisses(){
    var end = Math.min(misses.length, missesDrawn + MISSES_PAGE), html = '';
    for (var i = missesDrawn; i < end; i++) html += '<a class="miss" href="#file-' + misses[i][2].id +
      '"><img loading="lazy" src="' + esc(misses[i][1]) + '" alt="near miss"><span>' + misses[i][0].toFixed(2) +
      ' · ' + esc(misses[i][2].name) + '</span></a>';
    box.insertAdjacentHTML('beforeend', html); missesDrawn = end;
    moreMisses.hidden = missesDrawn >= misses.length;
    if (!misses.length) box.textContent = 'No near misses.'; }
  moreMisses.addEventListener('click', drawMisses);
  apply('all'); drawMisses();
})();
