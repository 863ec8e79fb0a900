OPENAPI_V2_PROTOBUF_CONTENT_TYPE = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
def openapi_v2_protobuf(swagger): raise NotImplementedError
