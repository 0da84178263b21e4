import { Body, Controller, Delete, Get, HttpCode, Param, Post, UseGuards } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBody,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import { ErrorResponseDto, KeelError } from '@keel/contracts';
import { ToolsService } from '@keel/agent/module';
import type { ShownHttp, ToolDescriptor } from '@keel/agent';
import { AdminGuard } from '../http/admin.guard.js';

const TOOL_EXAMPLE = {
  name: 'weather',
  description: 'Current weather for a city.',
  parameters: {
    type: 'object',
    properties: { city: { type: 'string' } },
    required: ['city'],
    additionalProperties: false,
  },
  timeoutMs: 5000,
  http: {
    method: 'GET',
    url: 'https://api.example.com/weather/{city}',
    headers: { Authorization: { secret: 'WEATHER_TOKEN' } },
  },
};

/** A tool as the API shows it; an HTTP tool's header values never leave the process. */
type ShownTool = ToolDescriptor & { http?: ShownHttp };

const HEADERS_SHOWN =
  "HTTP tools carry `http`: method, URL and header names; a plain header value is shown as `***`, a secret header by its name (`{ secret: 'WEATHER_TOKEN' }`), never its value.";

@ApiTags('tools')
@Controller('v1/tools')
export class ToolsController {
  constructor(private readonly tools: ToolsService) {}

  @Get()
  @ApiOkResponse({
    description: `every tool: built in, from the tools file (HTTP, MCP), registered. ${HEADERS_SHOWN}`,
  })
  async list(): Promise<{ tools: ShownTool[] }> {
    return { tools: await this.tools.list() };
  }

  @Get(':name')
  @ApiOkResponse({ description: `one tool. ${HEADERS_SHOWN}` })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'TOOL_NOT_FOUND' })
  async get(@Param('name') name: string): Promise<ShownTool> {
    await this.tools.sync();
    const tool = this.tools.describe(name);
    if (!tool) throw new KeelError('TOOL_NOT_FOUND', `no tool named '${name}'`);
    return tool;
  }

  /**
   * Registers an HTTP tool (admin). The declaration is checked whole (JSON Schemas compiled, the
   * URL's host against KEEL_TOOL_ALLOWED_HOSTS, secrets present) before anything is stored.
   */
  @Post()
  @UseGuards(AdminGuard)
  @ApiBody({ schema: { type: 'object', example: TOOL_EXAMPLE } })
  @ApiCreatedResponse({ description: `the registered tool. ${HEADERS_SHOWN}` })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'TOOL_INVALID' })
  @ApiUnauthorizedResponse({ type: ErrorResponseDto })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'TOOL_EXISTS' })
  register(@Body() declaration: Record<string, unknown>): Promise<ShownTool> {
    return this.tools.register(declaration);
  }

  @Delete(':name')
  @HttpCode(204)
  @UseGuards(AdminGuard)
  @ApiNoContentResponse()
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'TOOL_NOT_FOUND' })
  @ApiUnauthorizedResponse({ type: ErrorResponseDto })
  async remove(@Param('name') name: string): Promise<void> {
    await this.tools.remove(name);
  }
}
