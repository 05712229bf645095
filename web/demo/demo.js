// The demo "customer site": adds the widget's script tag for the entry point
// named in the page's address (?entry_point=ept_…), as a site would in its HTML.
const entryPoint = new URLSearchParams(location.search).get('entry_point');
const src = new URL('/widget.js', location.href).href;
document.getElementById('snippet').textContent =
  `<script src="${src}" data-entry-point="${entryPoint ?? 'ept_…'}" async></script>`;
if (entryPoint) {
  const tag = document.createElement('script');
  tag.src = src;
  tag.async = true;
  tag.dataset.entryPoint = entryPoint;
  document.body.append(tag);
}
