import ChatCore
import Foundation
import Hummingbird

/// Success responses in the reference's envelope: `{"success": true, ...fields}`.
enum JSONResponse {
    static func ok(_ fields: [String: JSONValue] = [:], status: HTTPResponse.Status = .ok) -> Response {
        var object = fields
        object["success"] = true
        return raw(.object(object), status: status)
    }

    static func raw(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: value.serialized())))
    }
}

extension Request {
    /// The body as a JSON object, within the 1 MiB limit; anything else is a 400 or 413.
    mutating func jsonObject(context: some RequestContext) async throws -> [String: JSONValue] {
        let buffer = try await collectBody(upTo: context.maxUploadSize)
        guard buffer.readableBytes > 0 else { throw APIError.invalidJSON }
        guard let value = try? JSONValue.parse(buffer.readableBytesView) else { throw APIError.invalidJSON }
        guard case .object(let object) = value else { throw APIError.badRequest("Body must be a JSON object") }
        return object
    }

    /// Like `jsonObject`, but an empty body is an empty object (routes whose every field is optional).
    mutating func optionalJSONObject(context: some RequestContext) async throws -> [String: JSONValue] {
        let buffer = try await collectBody(upTo: context.maxUploadSize)
        guard buffer.readableBytes > 0 else { return [:] }
        guard let value = try? JSONValue.parse(buffer.readableBytesView) else { throw APIError.invalidJSON }
        guard case .object(let object) = value else { throw APIError.badRequest("Body must be a JSON object") }
        return object
    }
}
