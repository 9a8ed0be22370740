/*
 * page_demo.c — GET /demo/storefront: a stand-in for the shop's product
 * page, served in local mode only. It includes the storefront bridge the
 * way the theme does (one script tag, /static/bridge.js by its plain
 * name), lets a person pick a pet's photos and watch them upload, and
 * submits a fake cart form back to itself, where its script shows the
 * line-item properties the order would carry. No inline script or style:
 * the page works under printdesk's Content-Security-Policy.
 */
#include "web/pages.h"

#include "web/web.h"

static void
demo_head(pd_buf *b, http_req *req)
{
    buf_puts(b, "<!doctype html><html lang=\"en\"><head>"
                "<meta charset=\"utf-8\"><meta name=\"viewport\" "
                "content=\"width=device-width,initial-scale=1\">"
                "<title>Demo storefront · printdesk</title>"
                "<link rel=\"stylesheet\" href=\"");
    pages_asset_url(b, req, "storefront-demo.css");
    buf_puts(b, "\"><link rel=\"icon\" href=\"");
    pages_asset_url(b, req, "icon.svg");
    buf_puts(b, "\"><script src=\"");
    pages_url(b, req, "/static/bridge.js");
    buf_puts(b, "\"></script><script defer src=\"");
    pages_asset_url(b, req, "storefront-demo.js");
    buf_puts(b, "\"></script></head><body>"
                "<header class=\"shop\"><strong>Perkie Prints</strong> "
                "<span>demo storefront · printdesk in local mode</span>"
                "</header>");
}

static void
demo_form(pd_buf *b, http_req *req)
{
    buf_puts(b, "<form id=\"cart\" method=\"get\" action=\"");
    pages_url(b, req, "/demo/storefront");
    buf_puts(b, "\"><label>Pet's name <input name=\"properties[_pet_name]\" "
                "value=\"Bella\" maxlength=\"60\" required></label>"
                "<label>Photo <input type=\"file\" id=\"photo-original\" "
                "accept=\"image/*\"></label>"
                "<label>Cut-out, as the background removal makes it "
                "(optional) <input type=\"file\" id=\"photo-processed\" "
                "accept=\"image/*\"></label>"
                "<ul id=\"uploads\" class=\"uploads\"></ul>"
                "<p id=\"queue\" class=\"queue\" role=\"status\"></p>"
                "<button type=\"submit\">Add to cart</button></form>");
}

static void
demo_received(pd_buf *b, http_req *req)
{
    buf_puts(b, "<section id=\"received\" hidden>"
                "<h2>What the cart received</h2>"
                "<p>The order carries these line-item properties; "
                "printdesk's order webhook reads them to link the photos "
                "to the order.</p><table id=\"properties\"><thead><tr>"
                "<th scope=\"col\">Property</th><th scope=\"col\">Value</th>"
                "</tr></thead><tbody></tbody></table><p><a href=\"");
    pages_url(b, req, "/demo/storefront");
    buf_puts(b, "\">Start again</a></p></section>");
}

int
web_page_demo(http_req *req)
{
    pd_buf b;
    int rc;

    buf_init(&b);
    demo_head(&b, req);
    buf_puts(&b, "<main><h1>Custom pet portrait</h1><p class=\"lead\">"
                 "This page stands in for the shop's product page and "
                 "includes printdesk's storefront bridge as the theme "
                 "does. A photo you pick waits on this device and goes "
                 "to printdesk at once; if the connection drops or the "
                 "page is reloaded, it goes on where it stopped.</p>");
    demo_form(&b, req);
    demo_received(&b, req);
    buf_puts(&b, "</main></body></html>\n");
    rc = pages_send(req, &b);
    buf_free(&b);
    return rc;
}
