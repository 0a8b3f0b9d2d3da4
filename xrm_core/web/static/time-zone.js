// Tells the server the browser's time zone (an IANA name, "Asia/Tehran") in the xrm_tz
// cookie: a user who has chosen no zone of their own sees times in it from the next page on.
// The server checks the name against its zone database and ignores one it does not know.
(function () {
  "use strict";
  var zone;
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch (e) {
    return;  // no Intl: the server's default zone
  }
  if (!zone) return;
  var cookie = "xrm_tz=" + encodeURIComponent(zone);
  if (document.cookie.split("; ").indexOf(cookie) !== -1) return;  // already said
  document.cookie = cookie + "; path=/; max-age=31536000; samesite=lax" +
    (location.protocol === "https:" ? "; secure" : "");
})();
