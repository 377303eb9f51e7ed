// The seed's hello routes, shared by examples/http_hello.ts and examples/https_server.ts.
import {
  type Evhttp,
  EVHTTP_REQ_GET,
  EVHTTP_REQ_POST,
  type EvhttpRequest,
  HTTP_BADMETHOD,
  HTTP_OK,
} from "../mod.ts";

function testGet(req: EvhttpRequest): void {
  if (req.getCommand() !== EVHTTP_REQ_GET) {
    req.sendError(HTTP_BADMETHOD);
    return;
  }
  req.sendReply(HTTP_OK, "Client is OK", "Test_Get is OK!");
}

function testPost(req: EvhttpRequest): void {
  if (req.getCommand() !== EVHTTP_REQ_POST) {
    req.sendError(HTTP_BADMETHOD);
    return;
  }
  const n = req.getInputBuffer().length;
  req.sendReply(HTTP_OK, "Client is OK", `Test_post is OK! (${n} bytes)`);
}

/**
 * `GET /hello/get` and `POST /hello/post`, with the seed's 5 s timeout. Request bodies are
 * buffered whole before the handler runs, so they are capped (413 beyond 8 MiB): without a
 * limit (libevent's default) one client announcing gigabytes makes the server hold them.
 */
export function addHelloRoutes(http: Evhttp): void {
  http.setCb("/hello/get", testGet);
  http.setCb("/hello/post", testPost);
  http.setTimeout(5000);
  http.setMaxBodySize(8 * 1024 * 1024);
}
